"""intq.ops: the functional API over the integer kernels.

Each op takes quantized arrays and their ``QuantParams``, validates them, derives its integer
parameters (multipliers, shifts, clamp bounds, tables) offline in float, and calls a kernel.
"""
