"""The trivial action: latents that are already invariant pass through unchanged."""

from __future__ import annotations

from invlatent.projections._base import Method, flat


def identity(action, z, mask, p):
    """z flattened to (B, D)."""
    return flat(z), {}


METHODS = [
    Method("identity", "trivial", identity, "the latents, flattened (already invariant)", "D",
           injective="yes", isometric="yes", convex="yes", cross_section=True),
]  # fmt: skip
