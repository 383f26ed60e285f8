"""Invariance and equivariance gates for Python test suites, as ``e3nn.util.test`` serves e3nn's.

``invariance_error`` / ``assert_invariant`` measure a projection (a registry method or any
function of latents) on random group elements; ``equivariance_error`` / ``assert_equivariant``
measure a user's encoder f per group element as ``‖f(g·x) − g·f(x)‖ / ‖f(x)‖``. Both compute the
error exactly as ``invlatent check`` does, and default to the tolerance ``recommend`` uses
(``TOLERANCE``, the one constant, ``invlatent.analysis.check.INVARIANCE_TOLERANCE``).
"""

from invlatent.testing._equivariance import assert_equivariant, equivariance_error
from invlatent.testing._invariance import TOLERANCE, assert_invariant, invariance_error

__all__ = [
    "TOLERANCE",
    "assert_equivariant",
    "assert_invariant",
    "equivariance_error",
    "invariance_error",
]
