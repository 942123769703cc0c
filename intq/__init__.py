"""intq: integer-arithmetic-only neural-network inference (Jacob et al. 2018).

The float side (scales, multipliers, tables) is computed once, offline; the kernels in
``intq.kernels`` see integers only. See README.md and docs/quantization.md.
"""

from . import fixed_point, fold, io, nn, observers, ops, profiles, qat, verify
from .builder import GraphBuilder
from .errors import FormatError
from .graph import Graph, GraphError, Op, Tensor
from .io import load, save
from .io.hdf5 import DumpTensor, load_dump, save_dump
from .profiles import Profile, available_profiles, get_profile, register_profile
from .qparams import QuantParams, choose_qparams
from .quantize import dequantize, fake_quantize, quantize
from .rounding import ROUNDING_MODES

__version__ = "0.1.0"

__all__ = [
    "ROUNDING_MODES",
    "DumpTensor",
    "FormatError",
    "Graph",
    "GraphBuilder",
    "GraphError",
    "Op",
    "Profile",
    "QuantParams",
    "Tensor",
    "available_profiles",
    "choose_qparams",
    "dequantize",
    "fake_quantize",
    "fixed_point",
    "fold",
    "get_profile",
    "io",
    "load",
    "load_dump",
    "nn",
    "observers",
    "ops",
    "profiles",
    "qat",
    "quantize",
    "register_profile",
    "save",
    "save_dump",
    "verify",
]
