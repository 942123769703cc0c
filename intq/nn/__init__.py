"""``intq.nn``: a small NumPy layer stack with explicit forward/backward, in TFLite layouts
(NHWC activations, OHWI / 1HWO / (out, in) weights), for training the float models that intq
quantizes. See docs/nn.md."""

from .batchnorm import BatchNorm2d
from .layers import (
    AvgPool2d,
    Conv2d,
    DepthwiseConv2d,
    Flatten,
    GlobalAvgPool2d,
    Linear,
    MaxPool2d,
    ReLU,
    ReLU6,
)
from .loss import accuracy, softmax_cross_entropy
from .module import Add, Module, Parameter, Residual, Sequential
from .optim import SGD, Adam, Optimizer
from .train import fit, predict

__all__ = [
    "SGD",
    "Adam",
    "Add",
    "AvgPool2d",
    "BatchNorm2d",
    "Conv2d",
    "DepthwiseConv2d",
    "Flatten",
    "GlobalAvgPool2d",
    "Linear",
    "MaxPool2d",
    "Module",
    "Optimizer",
    "Parameter",
    "ReLU",
    "ReLU6",
    "Residual",
    "Sequential",
    "accuracy",
    "fit",
    "predict",
    "softmax_cross_entropy",
]
