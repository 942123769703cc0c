"""intq.reference: float references and pure-Python integer oracles.

Written for obviousness (Python ints, explicit loops), never for speed, and independent of
``intq.kernels``: tests are the only place where kernels and oracles meet.
"""
