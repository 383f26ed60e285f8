"""The group-action spec: which group acts on a latent tensor, and through which representation.

An :class:`Action` is a small immutable value, parsed from one canonical string (``"sn"``,
``"c8"``, ``"d4"``, ``"c4:grid"``, ``"so2:0,1,1,2"``, ``"o3:16x0e+8x1o"``, ``"sn*so3:0e+1o"``,
``"trivial"``) that is stored in a latent file's metadata. ``str(Action.parse(s))`` is the
canonical form and parses back to an equal object. What an action does (its shapes, elements,
orbits, quotient) is its family's (``groups/family.py``, one module per family in
``groups/families/``); an ``Action`` of an unknown kind, or whose fields its family refuses,
cannot be constructed.
"""

from __future__ import annotations

from dataclasses import dataclass

from invlatent.errors import InvlatentError
from invlatent.groups.family import FAMILIES, Family
from invlatent.groups.irreps import Irreps


class ActionError(InvlatentError):
    """A group-action string or a tensor shape that does not fit an action."""


@dataclass(frozen=True)
class Action:
    """How a group acts on the latent tensor ``z`` of shape ``(B, ...)``.

    Attributes
    ----------
    kind : the family's key: ``sn``, ``cyclic``, ``dihedral``, ``so2``, ``o3``, ``so3`` or
        ``trivial`` (``FAMILIES``).
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

    def __post_init__(self) -> None:
        if self.kind not in FAMILIES:
            raise ActionError(f"unknown group kind {self.kind!r}: one of {', '.join(FAMILIES)}")
        if problem := FAMILIES[self.kind].problem(self):
            raise ActionError(problem)

    @classmethod
    def parse(cls, text: str | Action) -> Action:
        """Parse ``sn``, ``cN``, ``dN``, ``cN:grid``, ``dN:grid``, ``so2:f1,f2,...``,
        ``o3:IRREPS``, ``sn*o3:IRREPS`` (and ``so3``) or ``trivial`` (case-insensitive)."""
        if isinstance(text, Action):
            return text
        s = str(text).strip().lower().replace(" ", "")
        for family in FAMILIES.values():
            if (action := family.parse(s)) is not None:
                return action
        raise ActionError(
            f"unknown group {str(text)[:60]!r}: expected sn, cN or dN (e.g. c8, d4), cN:grid or "
            "dN:grid (e.g. c4:grid), so2:FREQS (e.g. so2:0,1,1,2), o3:IRREPS or so3:IRREPS "
            "(e.g. o3:16x0e+8x1o), sn*o3:IRREPS, sn*so3:IRREPS or trivial"
        )

    @classmethod
    def so2(cls, freqs) -> Action:
        """An SO(2) action on a direct sum of irreps with the given frequencies."""
        return cls("so2", 0, tuple(int(f) for f in freqs))

    @property
    def family(self) -> Family:
        """The family whose behaviour this action has."""
        return FAMILIES[self.kind]

    def __str__(self) -> str:
        return self.family.format(self)

    @property
    def group_size(self) -> int:
        """Number of group elements (0 for infinite groups or Sn, whose n comes from the data)."""
        return self.family.group_size(self)

    @property
    def finite(self) -> bool:
        """True for the finite rotation/reflection groups ``cN``/``dN`` (on a grid or not)."""
        return self.group_size > 0

    @property
    def reflections(self) -> bool:
        """True when the group has improper elements: the mirrors of dN, the inversions of O(3)."""
        return self.family.reflections

    @property
    def pooled(self) -> Action:
        """The regular fields left when a grid's plane is pooled away (``c4:grid`` → ``c4``)."""
        return Action(self.kind, self.order, self.freqs)

    @property
    def is_invariant(self) -> bool:
        """True when the group acts trivially, so the latents need no projection."""
        return self.family.trivial

    @property
    def so2_dim(self) -> int:
        """Length of a vector of SO(2) irreps: 1 per frequency 0, 2 per frequency k >= 1."""
        return sum(1 if f == 0 else 2 for f in self.freqs)

    @property
    def has_nodes(self) -> bool:
        """True when axis 1 of z holds nodes that the group permutes (``sn``, ``sn*o3``, …)."""
        return self.family.has_nodes(self)

    @property
    def g_kind(self) -> str | None:
        """How the ``g`` tensor encodes a group element of this action (see docs/format.md)."""
        return self.family.g_kind(self)

    def shape_problem(self, shape: tuple[int, ...]) -> str | None:
        """Say why a ``z`` shape ``(B, ...)`` cannot carry this action, or None when it fits."""
        if len(shape) < 1:
            return "z must have a batch axis"
        return self.family.shape_problem(self, tuple(shape))
