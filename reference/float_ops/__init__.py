"""Float64 NumPy references of the quantized ops: conv, depthwise, dense, pools, add, mul, mean,
softmax, logistic, tanh. Used to check that dequantized integer results are within the expected
quantization error; clear, not fast, and independent of ``intq.kernels``."""

from . import activations, conv, elementwise, gemm, pool

__all__ = ["activations", "conv", "elementwise", "gemm", "pool"]
