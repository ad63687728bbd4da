"""Loss functions for training video models from sparse labels.

Depends on torch only; never imports :mod:`vidal`.
"""
