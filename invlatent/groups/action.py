"""The group-action spec: which group acts on a latent tensor, and through which representation.

An :class:`Action` is a small immutable value, parsed from one canonical string (``"sn"``,
``"c8"``, ``"d4"``, ``"c4:grid"``, ``"so2:0,1,1,2"``, ``"o3:16x0e+8x1o"``, ``"sn*so3:0e+1o"``,
``"trivial"``) that is stored in a latent
file's metadata. ``str(Action.parse(s))`` is the canonical form and parses back to an equal object.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from invlatent.errors import InvlatentError
from invlatent.groups.irreps import Irreps, IrrepsError

KINDS = ("sn", "cyclic", "dihedral", "so2", "o3", "so3", "trivial")
G_KINDS = {"sn": "perm", "cyclic": "index", "dihedral": "index", "so2": "angle", "trivial": None}

_FINITE = re.compile(r"^([cd])(\d+)(:grid)?$")
_O3 = re.compile(r"^(sn\*)?(o3|so3)(?::(.*))?$")


class ActionError(InvlatentError):
    """A group-action string or a tensor shape that does not fit an action."""


@dataclass(frozen=True)
class Action:
    """How a group acts on the latent tensor ``z`` of shape ``(B, ...)``.

    Attributes
    ----------
    kind : one of ``KINDS``.
    order : N for ``cN``/``dN`` (the rotation subgroup's order), else 0.
    freqs : SO(2) irrep frequencies for ``so2``, else ``()``.
    grid : for ``cN``/``dN`` only: the regular fields live on a square pixel grid,
        ``z (B, F, |G|, H, W)`` (``cN:grid``/``dN:grid``), and an element also turns the grid.
    irreps : for ``o3``/``so3``: the e3nn Irreps of ``z (B, D)``, else empty.
    nodes : for ``o3``/``so3``: the product ``sn*o3`` / ``sn*so3`` with node permutations,
        ``z (B, n, D)``, every node rotated alike.
    """

    kind: str
    order: int = 0
    freqs: tuple[int, ...] = ()
    grid: bool = False
    irreps: Irreps = Irreps()
    nodes: bool = False

    @classmethod
    def parse(cls, text: str | Action) -> Action:
        """Parse ``sn``, ``cN``, ``dN``, ``cN:grid``, ``dN:grid``, ``so2:f1,f2,...`` or ``trivial``
        (case-insensitive)."""
        if isinstance(text, Action):
            return text
        s = str(text).strip().lower().replace(" ", "")
        if s in ("sn", "trivial"):
            return cls(s)
        if m := _FINITE.match(s):
            order = int(m.group(2))
            if order < 2:
                raise ActionError(f"group {text!r}: the order N must be at least 2")
            kind = "cyclic" if m.group(1) == "c" else "dihedral"
            return cls(kind, order, grid=bool(m.group(3)))
        if s == "so2" or s.startswith("so2:"):
            return cls.so2(_parse_freqs(s[4:], text))
        if m := _O3.match(s):
            return cls(m.group(2), irreps=_parse_irreps(m.group(3), text), nodes=bool(m.group(1)))
        raise ActionError(
            f"unknown group {text!r}: expected sn, cN or dN (e.g. c8, d4), cN:grid or dN:grid "
            "(e.g. c4:grid), so2:FREQS (e.g. so2:0,1,1,2), o3:IRREPS or so3:IRREPS "
            "(e.g. o3:16x0e+8x1o), sn*o3:IRREPS, sn*so3:IRREPS or trivial"
        )

    @classmethod
    def so2(cls, freqs) -> Action:
        """An SO(2) action on a direct sum of irreps with the given frequencies."""
        freqs = tuple(int(f) for f in freqs)
        if not freqs or any(f < 0 for f in freqs):
            raise ActionError(
                f"so2 frequencies must be a non-empty list of integers >= 0, got {freqs}"
            )
        return cls("so2", 0, freqs)

    def __str__(self) -> str:
        grid = ":grid" if self.grid else ""
        if self.kind == "cyclic":
            return f"c{self.order}{grid}"
        if self.kind == "dihedral":
            return f"d{self.order}{grid}"
        if self.kind == "so2":
            return "so2:" + ",".join(map(str, self.freqs))
        if self.kind in ("o3", "so3"):
            return f"{'sn*' if self.nodes else ''}{self.kind}:{self.irreps}"
        return self.kind

    @property
    def group_size(self) -> int:
        """Number of group elements (0 for infinite groups or Sn, whose n comes from the data)."""
        return {"cyclic": self.order, "dihedral": 2 * self.order}.get(self.kind, 0)

    @property
    def pooled(self) -> Action:
        """The regular fields left when a grid's plane is pooled away (``c4:grid`` → ``c4``)."""
        return Action(self.kind, self.order, self.freqs)

    @property
    def is_invariant(self) -> bool:
        """True when the group acts trivially, so the latents need no projection."""
        return self.kind == "trivial"

    @property
    def so2_dim(self) -> int:
        """Length of a vector of SO(2) irreps: 1 per frequency 0, 2 per frequency k >= 1."""
        return sum(1 if f == 0 else 2 for f in self.freqs)

    @property
    def has_nodes(self) -> bool:
        """True when axis 1 of z holds nodes that the group permutes (``sn``, ``sn*o3``, …)."""
        return self.kind == "sn" or self.nodes

    @property
    def g_kind(self) -> str | None:
        """How the ``g`` tensor encodes a group element of this action (see docs/format.md)."""
        if self.kind in ("o3", "so3"):
            return "rotation+perm" if self.nodes else "rotation"
        return G_KINDS[self.kind]

    def shape_problem(self, shape: tuple[int, ...]) -> str | None:
        """Say why a ``z`` shape ``(B, ...)`` cannot carry this action, or None when it fits."""
        if len(shape) < 1:
            return "z must have a batch axis"
        rest = shape[1:]
        if self.kind == "sn" and len(rest) != 2:
            return f"action sn needs z of shape [B, n, d], got {list(shape)}"
        if self.grid:
            return self._grid_shape_problem(shape)
        if self.kind in ("cyclic", "dihedral"):
            size = self.group_size
            if len(rest) != 2:
                return f"action {self} needs z of shape [B, F, {size}], got {list(shape)}"
            if rest[1] != size:
                return f"action {self} needs a last axis of {size} (one per element), got {rest[1]}"
        if self.kind == "so2":
            if len(rest) != 1 or rest[0] != self.so2_dim:
                return (
                    f"action {self} needs z of shape [B, {self.so2_dim}] "
                    f"(frequencies {list(self.freqs)}), got {list(shape)}"
                )
        if self.kind in ("o3", "so3"):
            return self._irreps_shape_problem(shape)
        return None

    def _irreps_shape_problem(self, shape: tuple[int, ...]) -> str | None:
        """Why ``shape`` is not ``(B, D)`` (or ``(B, n, D)`` for products), or None."""
        d = self.irreps.dim
        want = f"[B, n, {d}]" if self.nodes else f"[B, {d}]"
        if len(shape) != (3 if self.nodes else 2) or shape[-1] != d:
            return f"action {self} needs z of shape {want} (D = Σ mul·(2l+1)), got {list(shape)}"
        return None

    def _grid_shape_problem(self, shape: tuple[int, ...]) -> str | None:
        """Why ``shape`` is not ``(B, F, |G|, H, H)``: fields on a square grid, or None."""
        size = self.group_size
        if len(shape) != 5:
            return f"action {self} needs z of shape [B, F, {size}, H, W], got {list(shape)}"
        if shape[2] != size:
            return f"action {self} needs axis 2 of {size} (one per element), got {shape[2]}"
        if shape[3] != shape[4] or shape[3] < 1:
            return f"action {self} needs a square grid (H = W ≥ 1), got {shape[3]}×{shape[4]}"
        return None


def _parse_irreps(body: str | None, original: str) -> Irreps:
    """The Irreps after ``o3:``; an empty or unreadable one is an ``ActionError``."""
    try:
        irreps = Irreps(body or "")
    except IrrepsError as e:
        raise ActionError(f"group {original!r}: {e}") from None
    if not irreps.dim:
        raise ActionError(f"group {original!r}: needs irreps after ':', e.g. o3:16x0e+8x1o")
    return irreps


def _parse_freqs(body: str, original: str) -> tuple[int, ...]:
    """Parse ``0,1,1,2`` or the multiplicity form ``0x1,1x2,2x1`` into a frequency tuple."""
    freqs: list[int] = []
    for part in filter(None, body.split(",")):
        freq, _, mult = part.partition("x")
        if not freq.isdigit() or (mult and not mult.isdigit()):
            raise ActionError(f"group {original!r}: cannot read frequency {part!r}")
        freqs += [int(freq)] * (int(mult) if mult else 1)
    if not freqs:
        raise ActionError(f"group {original!r}: so2 needs frequencies, e.g. so2:0,1,1,2")
    return tuple(freqs)
