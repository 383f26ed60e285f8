"""Group actions on latent layouts: apply elements to a batch, sample elements, compose them.

Element encodings (the ``g`` tensor of a latent file, see docs/format.md):

- ``sn``: a permutation ``p`` of shape ``(B, n)``; ``(p·z)[i] = z[p[i]]`` (node i is old node p[i]).
- ``cN``: an index ``k`` in ``0..N-1`` meaning the rotation r^k; it shifts the group axis by k:
  ``(r^k·z)[..., j] = z[..., (j - k) mod N]``.
- ``dN``: an index ``i = m·N + k`` meaning r^k f^m (f a reflection, f r f = r⁻¹); the regular
  representation ``(h·z)[..., i(g)] = z[..., i(h⁻¹ g)]``.
- ``cN:grid`` / ``dN:grid``: the index of cN/dN; on fields ``(B, F, |G|, H, W)`` on a square
  grid the element shifts the group axis as above *and* turns the grid about its centre
  (``(u·z)(g, p) = z(u⁻¹g, u⁻¹p)``, the convention of ``invlatent.pipelines.images``): quarter turns
  and the mirror are exact (``np.rot90``, flip), other angles are bilinear with zeros outside, only
  approximately a group action (``exact_elements`` says which are exact).
- ``so2``: an angle θ in radians; the irrep of frequency k rotates its 2-vector by kθ.
- ``o3`` / ``so3``: an orthogonal matrix R ``(B, 3, 3)`` (det −1 allowed for ``o3`` only);
  ``z' = z @ D(R)ᵀ`` with e3nn's ``D_from_matrix`` (``invlatent.groups.irreps``).
- ``sn*o3`` / ``sn*so3``: the pair ``(R, P)``, R ``(B, 3, 3)`` and P ``(B, n)`` a node
  permutation (new node i is old node P[i]), every node rotated by R. ``act`` takes it as
  ``g=(R, P)`` or as ``g=R, g_perm=P`` (P defaults to the identity); ``sample`` returns the pair.
- ``trivial``: no effect.
"""

from __future__ import annotations

import numpy as np

from invlatent.groups import pixels
from invlatent.groups.action import Action


def act(action: Action, z: np.ndarray, g, mask: np.ndarray | None = None, g_perm=None):
    """Apply one group element per row: returns ``g·z`` (and the permuted mask for node sets)."""
    action = Action.parse(action)
    return action.family.act(action, z, g, mask, g_perm)


def sample(action: Action, batch: int, rng: np.random.Generator, n_nodes: int = 0):
    """Draw ``batch`` uniformly random group elements, encoded as in ``g`` tensors."""
    action = Action.parse(action)
    return action.family.sample(action, batch, rng, n_nodes)


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


def act_grid(action: Action, z: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``g·z`` for fields on a grid ``(B, F, |G|, H, W)``, one element per row (grouped by it)."""
    g = np.asarray(g, dtype=np.intp)
    out = np.empty(z.shape, dtype=z.dtype)
    for e in np.unique(g):
        rows = np.flatnonzero(g == e)
        out[rows] = transform_grid(action, z[rows], int(e))
    return out


def transform_grid(action: Action, z: np.ndarray, element: int) -> np.ndarray:
    """One element on every row of ``(b, F, |G|, H, W)``: shift the group axis, then mirror and
    turn the plane (``np.rot90`` for quarter turns, bilinear interpolation otherwise)."""
    action = Action.parse(action)
    moved = z[:, :, regular_permutations(action)[element]]
    angle, flip = grid_element(action, element)
    if exact_elements(action)[element]:
        plane = moved[..., ::-1] if flip else moved
        return np.rot90(plane, round(angle / (np.pi / 2)), axes=(-2, -1))
    return pixels.turn_planes(moved, angle, flip)


def grid_element(action: Action, element: int) -> tuple[float, bool]:
    """``(angle, flip)`` of the element r^k f^m with index ``m·N + k``: reflect, then turn 2πk/N."""
    n = Action.parse(action).order
    return 2 * np.pi * (element % n) / n, bool(element // n)


def exact_elements(action: Action) -> np.ndarray:
    """Per element index: True where it acts exactly (always, except a grid's turns that are not
    multiples of 90°, which need interpolation on the pixel grid)."""
    action = Action.parse(action)
    els = elements(action)
    if not action.grid:
        return np.ones(len(els), dtype=bool)
    return (4 * (els % action.order)) % action.order == 0


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
