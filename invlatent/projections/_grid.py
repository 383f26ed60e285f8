"""Reductions of regular fields on a square grid (``cN:grid`` / ``dN:grid``, z (B, F, |G|, H, W)).

Pooling the plane commutes with turning it, so ``spatial-mean`` and ``spatial-max`` map the grid
to the plain regular fields ``cN`` / ``dN`` ``(B, F, |G|)``, on which the group still acts by its
shift: π(g·z) = g·π(z), an *equivariant* reduction, not an invariant one. Chain an invariant
projection of cN/dN after them (``project -m spatial-mean z.st | project -m bispectrum -``).
Exact for quarter turns and the mirror; for other angles g·z is interpolated, and the pooled
values move with the interpolation (``check`` measures it per element).
"""

from __future__ import annotations

from invlatent.projections._base import Method, flat


def spatial_mean(action, z, mask, p):
    """Mean over the grid per field and group element: (b, F, |G|), flattened."""
    return flat(z.mean(axis=(-2, -1))), {}


def spatial_max(action, z, mask, p):
    """Max over the grid per field and group element: (b, F, |G|), flattened."""
    return flat(z.max(axis=(-2, -1))), {}


def raw(action, z, mask, p):
    """The raw feature maps, flattened (not invariant: a baseline)."""
    return flat(z), {}


EQUIVARIANT = "no: equivariant → cN/dN"

METHODS = [
    Method("spatial-mean", "grid", spatial_mean, "mean over the grid → regular fields cN/dN "
           "[B, F, |G|] (equivariant; chain a cN/dN projection)", "F·|G| (as [B, F, |G|])",
           invariant=EQUIVARIANT, convex="yes", equivariant=True),
    Method("spatial-max", "grid", spatial_max, "max over the grid → regular fields cN/dN "
           "[B, F, |G|] (equivariant; chain a cN/dN projection)", "F·|G| (as [B, F, |G|])",
           invariant=EQUIVARIANT, equivariant=True),
    Method("raw", "grid", raw, "raw feature maps flattened (baseline, not invariant)",
           "F·|G|·H·W", invariant="no", injective="-", isometric="-", convex="-"),
]  # fmt: skip
