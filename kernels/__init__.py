"""intq.kernels: Numba integer kernels. Integer arrays and ints in, integer arrays out, no floats.

This package stands alone: it imports neither ``intq`` nor ``intq.reference``. Each module lists
the Numba signatures intq compiles its kernels for in a module-level ``SIGNATURES`` dict, which
the FPU-free test compiles and scans.
"""
