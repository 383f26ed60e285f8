"""Synthetic equivariant latents whose labels depend only on the orbit, for samples and tests.

Each class has a prototype latent; a sample is its prototype plus noise, then moved by a random
group element that is recorded in ``g``. The prototypes have equal group averages (zero mean over
the group axis for cN/dN, zero frequency-0 part for SO(2), the same node values up to order for
Sn), so the class is invisible to averaging and to linear maps of raw latents, yet any good
invariant projection recovers it.
"""

from __future__ import annotations

import numpy as np

from invlatent.errors import InvlatentError
from invlatent.format.latentfile import LatentFile, make_step
from invlatent.groups import act, sample
from invlatent.groups.action import Action


def make_synthetic(
    action: str | Action,
    *,
    n_samples: int = 400,
    n_classes: int = 4,
    fields: int = 8,
    n_nodes: int = 9,
    node_dim: int = 4,
    noise: float = 0.1,
    seed: int = 0,
) -> LatentFile:
    """A latent file of ``n_samples`` orbit-labelled latents under ``action``, seeded."""
    action = Action.parse(action)
    rng = np.random.default_rng(seed)
    labels = np.arange(n_samples, dtype=np.int64) % n_classes
    rng.shuffle(labels)
    protos, mask = _prototypes(action, n_classes, fields, n_nodes, node_dim, rng)
    z = protos[labels] + noise * rng.standard_normal((n_samples, *protos.shape[1:]))
    mask = None if mask is None else mask[labels]
    if mask is not None:
        z = z * mask[..., None]
    g = sample(action, n_samples, rng, n_nodes=n_nodes)
    z, mask = act(action, z, g, mask)
    g, extra = (g[0], {"g_perm": g[1]}) if isinstance(g, tuple) else (g, {})  # sn*o3: (R, P)
    options = {"n_samples": n_samples, "n_classes": n_classes, "noise": noise}
    return LatentFile(
        z=z.astype(np.float32),
        action=action,
        mask=mask,
        labels=labels,
        g=None if action.is_invariant else g,
        ids=np.arange(n_samples, dtype=np.int64),
        extra=extra,
        history=[make_step(f"synthetic {action}", options, seed=seed)],
    )


def _prototypes(action: Action, k: int, fields: int, n_nodes: int, node_dim: int, rng):
    """One prototype per class, with equal group averages across classes."""
    family = action.family.projection_family(action)
    if family == "regular":
        p = rng.standard_normal((k, fields, action.group_size))
        return p - p.mean(axis=-1, keepdims=True), None
    if family == "so2":
        p = rng.standard_normal((k, action.so2_dim))
        p[:, _scalar_columns(action.freqs)] = 0.0
        return p, None
    if family == "sn":
        return _node_prototypes(k, n_nodes, node_dim, rng)
    if family in ("o3", "sn*o3"):
        return _irreps_prototypes(action, k, n_nodes, rng), None
    if action.is_invariant:
        return rng.standard_normal((k, fields)) * 2.0, None
    raise InvlatentError(f"no synthetic latents for action {action}")


def _node_prototypes(k: int, n_nodes: int, node_dim: int, rng):
    """Padded node sets whose classes have the same values in every channel, paired differently.

    Per-channel statistics (sum, mean, max, per-channel sorting) cannot tell the classes apart;
    only invariants that keep which values sit on the same node (row sorting) can.
    """
    size = max(2, n_nodes - 2)
    pool = rng.standard_normal((size, node_dim))
    protos = np.zeros((k, n_nodes, node_dim))
    for c in range(k):
        protos[c, :size] = np.stack([rng.permutation(pool[:, j]) for j in range(node_dim)], axis=1)
    mask = np.zeros((k, n_nodes), dtype=bool)
    mask[:, :size] = True
    return protos, mask


def _irreps_prototypes(action: Action, k: int, n_nodes: int, rng) -> np.ndarray:
    """O(3) irreps (per node for sn*o3) without invariant scalars: their group average is 0."""
    d = action.irreps.dim
    p = rng.standard_normal((k, n_nodes, d) if action.nodes else (k, d))
    for _, deg, parity, cols in action.irreps.blocks():
        if deg == 0 and (parity == 1 or not action.reflections):
            p[..., cols] = 0.0
    return p


def _scalar_columns(freqs: tuple[int, ...]) -> list[int]:
    cols, col = [], 0
    for f in freqs:
        if f == 0:
            cols.append(col)
        col += 1 if f == 0 else 2
    return cols
