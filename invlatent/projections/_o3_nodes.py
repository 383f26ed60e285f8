"""Invariant projections for node sets of O(3)/SO(3) irreps (``sn*o3:``/``sn*so3:``, z (B, n, D)).

Two kinds:

- per-node invariants (``norm``, ``power``, ``bispectrum`` of ``_o3``), then the nodes sorted
  lexicographically by those features (real nodes first, padded slots zero). These forget how
  the nodes are oriented relative to each other: two atom sets whose nodes have equal
  invariants map to the same point even when their vectors point differently.
- ``canonical`` keeps relative orientations: every node is rotated by the one frame taken from
  the node sum (over real nodes), then the nodes are sorted. Its element (R, P) is stored.
- ``norm-sum`` keeps them in aggregate and without a frame: the sorted per-node norms beside the
  o3 ``power`` of the node sum, i.e. how the nodes' vectors add up (a dipole-like quantity).
  It is continuous everywhere, where ``canonical`` jumps as its frame does.
"""

from __future__ import annotations

import numpy as np

from invlatent.groups import irreps
from invlatent.projections import _o3, _sn
from invlatent.projections._base import Method, Params, flat
from invlatent.projections._xp import namespace


def sort_nodes(feat: np.ndarray, mask) -> tuple[np.ndarray, dict]:
    """Nodes (b, n, f) sorted lexicographically (real first, padded zero), flattened, with the
    ``perm`` (and ``n_nodes``) extras: ``sn``'s ``sort`` on every feature."""
    return _sn.sort(None, feat, mask, Params(feat.shape[1:]))


def _per_node(features):
    def project(action, z, mask, p):
        return sort_nodes(features(action, z), mask)[0], {}

    return project


def node_sum(action, z, mask):
    """The sum of the real nodes' irreps (b, D) in float64: an o3 vector of the whole set."""
    xp = namespace(z)
    z = xp.astype(z, xp.float64)
    return xp.sum(z if mask is None else z * xp.astype(mask[..., None], xp.float64), axis=1)


def norm_sum(action, z, mask, p):
    """Sorted per-node norms, then the Gram matrices per class of the node sum (o3 ``power``)."""
    per_node, _ = sort_nodes(_o3.norm_features(action, z), mask)
    pooled = _o3.power_features(action, node_sum(action, z, mask))
    return namespace(z).concat([per_node, pooled], axis=1), {}


def canonical(action, z, mask, p):
    """Rotate all nodes by the frame of their sum (real nodes), then sort the nodes; stores
    ``canon`` (R), ``canon_rank`` (3 = frame fixed by the content), ``perm`` and ``n_nodes``."""
    R, rank = _o3.frame(action, node_sum(action, z, mask))
    turned = irreps.rotate(action.irreps, z, R).astype(np.float32)
    out, extras = sort_nodes(turned, mask)
    return out, {"canon": R, "canon_rank": rank, **extras}


def raw(action, z, mask, p):
    """The raw latents, flattened (not invariant: a baseline)."""
    return flat(z), {}


METHODS = [
    Method("norm", "sn*o3", _per_node(_o3.norm_features), "per node: invariant scalars and "
           "norms of the other copies; nodes sorted", "n·#copies", differentiable=True),
    Method("power", "sn*o3", _per_node(_o3.power_features), "per node: Gram matrices per "
           "class (o3 power); nodes sorted", "n·(z0 + sum m(m+1)/2)",
           injective="no (loses orientations between nodes)", differentiable=True),
    Method("bispectrum", "sn*o3", _per_node(_o3.bispectrum_features), "per node: o3 "
           "bispectrum; nodes sorted", "n·(power + m·#reference pairs)",
           injective="no (loses orientations between nodes)"),
    Method("norm-sum", "sn*o3", norm_sum, "per-node norms, nodes sorted, plus the o3 power of "
           "the node sum: keeps how the nodes' vectors add up (relative orientation, e.g. a "
           "dipole), continuous, no frame", "n·#copies + (z0 + sum m(m+1)/2)",
           injective="no (keeps relative orientation only in aggregate)", differentiable=True),
    Method("canonical", "sn*o3", canonical, "rotate every node by the frame of the node sum, "
           "then sort the nodes: keeps relative orientations", "n·D",
           injective="yes (frame rank 3)", element="canon, perm", cross_section=True),
    Method("raw", "sn*o3", raw, "raw latents flattened (baseline, not invariant)", "n·D",
           invariant="no", injective="-", isometric="-", convex="-"),
]  # fmt: skip
