"""Invariant projections as torch modules: ``invlatent.nn.Projection(action, method)``, for
training invariant heads end to end (importing this package imports torch)."""

from invlatent.nn._projection import Projection

__all__ = ["Projection"]
