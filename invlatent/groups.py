"""Group actions on latent layouts: apply elements to a batch, sample elements, compose them.

Element encodings (the ``g`` tensor of a latent file, see docs/format.md):

- ``sn``: a permutation ``p`` of shape ``(B, n)``; ``(p·z)[i] = z[p[i]]`` (node i is old node p[i]).
- ``cN``: an index ``k`` in ``0..N-1`` meaning the rotation r^k; it shifts the group axis by k:
  ``(r^k·z)[..., j] = z[..., (j - k) mod N]``.
- ``dN``: an index ``i = m·N + k`` meaning r^k f^m (f a reflection, f r f = r⁻¹); the regular
  representation ``(h·z)[..., i(g)] = z[..., i(h⁻¹ g)]``.
- ``so2``: an angle θ in radians; the irrep of frequency k rotates its 2-vector by kθ.
- ``trivial``: no effect.
"""

from __future__ import annotations

import numpy as np

from invlatent.action import Action


def act(action: Action, z: np.ndarray, g: np.ndarray, mask: np.ndarray | None = None):
    """Apply one group element per row: returns ``g·z`` (and the permuted mask for ``sn``)."""
    action = Action.parse(action)
    if action.kind == "sn":
        z2 = np.take_along_axis(z, g[:, :, None].astype(np.intp), axis=1)
        m2 = None if mask is None else np.take_along_axis(mask, g.astype(np.intp), axis=1)
        return z2, m2
    if action.kind in ("cyclic", "dihedral"):
        perm = regular_permutations(action)[np.asarray(g, dtype=np.intp)]
        return np.take_along_axis(z, perm[:, None, :], axis=-1), mask
    if action.kind == "so2":
        return rotate_irreps(z, np.asarray(g, dtype=np.float64), action.freqs), mask
    return z, mask


def sample(action: Action, batch: int, rng: np.random.Generator, n_nodes: int = 0) -> np.ndarray:
    """Draw ``batch`` uniformly random group elements, encoded as in ``g`` tensors."""
    action = Action.parse(action)
    if action.kind == "sn":
        return np.argsort(rng.random((batch, n_nodes)), axis=1).astype(np.int64)
    if action.kind in ("cyclic", "dihedral"):
        return rng.integers(0, action.group_size, size=batch, dtype=np.int64)
    if action.kind == "so2":
        return rng.uniform(0.0, 2 * np.pi, size=batch)
    return np.zeros(batch, dtype=np.int64)


def elements(action: Action) -> np.ndarray:
    """All elements of a finite rotation/reflection group, as indices in the ``g`` encoding."""
    action = Action.parse(action)
    if not action.group_size:
        raise ValueError(f"{action} is not a finite cyclic or dihedral group")
    return np.arange(action.group_size, dtype=np.int64)


def compose(action: Action, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The product ``a·b`` of element indices of ``cN``/``dN`` (apply b first, then a)."""
    n = Action.parse(action).order
    ka, ma = np.asarray(a) % n, np.asarray(a) // n
    kb, mb = np.asarray(b) % n, np.asarray(b) // n
    k = (ka + np.where(ma == 1, -kb, kb)) % n
    return ((ma + mb) % 2) * n + k


def inverse(action: Action, a: np.ndarray) -> np.ndarray:
    """The inverse of element indices of ``cN``/``dN``."""
    n = Action.parse(action).order
    k, m = np.asarray(a) % n, np.asarray(a) // n
    return np.where(m == 1, a, (-k) % n)


def regular_permutations(action: Action) -> np.ndarray:
    """Table ``P[h, i] = index(h⁻¹ g_i)``, so that ``(h·z)[..., i] = z[..., P[h, i]]``."""
    els = elements(action)
    inv = inverse(action, els)
    return compose(action, inv[:, None], els[None, :]).astype(np.intp)


def rotate_irreps(z: np.ndarray, theta: np.ndarray, freqs: tuple[int, ...]) -> np.ndarray:
    """Rotate each frequency-k 2-vector of ``z`` (shape ``(B, D)``) by ``k·theta`` per row."""
    out = np.array(z, copy=True)
    col = 0
    for k in freqs:
        if k == 0:
            col += 1
            continue
        c, s = np.cos(k * theta), np.sin(k * theta)
        x, y = z[:, col].astype(np.float64), z[:, col + 1].astype(np.float64)
        out[:, col] = c * x - s * y
        out[:, col + 1] = s * x + c * y
        col += 2
    return out
