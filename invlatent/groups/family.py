"""What a group family is: the behaviour ``Action`` delegates to, and the registry of families.

A family (node permutations, cyclic or dihedral regular fields, SO(2) irreps, O(3) irreps, the
trivial group) is one object that parses and prints its action strings, checks the shapes of
``z``, acts, samples, aligns (the quotient distance), and says how its orbits are drawn.
``Action`` keeps the data (kind, order, frequencies, irreps, ...) and asks its family for the
behaviour; every family module registers its objects under the ``kind`` values they serve. A new
family is one module in ``groups/families/`` plus its line in that package's ``__init__``.
"""

from __future__ import annotations

import numpy as np

FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Serve actions whose ``kind`` is ``family.kind``."""
    FAMILIES[family.kind] = family
    return family


class Family:
    """The behaviour of one kind of action; subclasses override what differs from the trivial
    group's (which acts on nothing)."""

    kind = ""
    projections = ""  # the family name under which ``invlatent.projections`` registers methods
    reflections = False  # the group has improper elements (dN mirrors, O(3) inversions)
    trivial = False  # the group acts as the identity: latents are invariant already
    closed_orbits = False  # orbits drawn with ``orbit_elements`` are closed loops
    optimised_quotient = False  # quotient distances by local optimisation (milliseconds a pair)

    def parse(self, text: str):
        """The action that ``text`` (lower case, no spaces) describes, or None if not ours."""
        return None

    def format(self, action) -> str:
        """The canonical action string."""
        return self.kind

    def problem(self, action) -> str | None:
        """Why the fields of ``action`` do not describe an action of this family, or None."""
        return None

    def group_size(self, action) -> int:
        """Number of elements (0 for infinite groups and Sn, whose n comes from the data)."""
        return 0

    def g_kind(self, action) -> str | None:
        """How a ``g`` tensor encodes one element (docs/format.md)."""
        return None

    def has_nodes(self, action) -> bool:
        """Whether axis 1 of ``z`` holds nodes that the group permutes."""
        return False

    def projection_family(self, action) -> str:
        """The registry family of ``invlatent.projections`` whose methods apply."""
        return self.projections

    def shape_problem(self, action, shape: tuple[int, ...]) -> str | None:
        """Why ``z`` of ``shape`` (batch first) cannot carry ``action``, or None."""
        return None

    def act(self, action, z: np.ndarray, g, mask=None, g_perm=None):
        """``g·z`` (and the moved mask), one element per row."""
        return z, mask

    def sample(self, action, batch: int, rng: np.random.Generator, n_nodes: int = 0):
        """``batch`` uniformly random elements, encoded as in ``g``."""
        return np.zeros(batch, dtype=np.int64)

    def align(self, action, z1: np.ndarray, z2: np.ndarray, mask1=None, mask2=None):
        """Row-wise min over g of ||z1 - g·z2|| (float64) and the minimising element."""
        flat = (z1 - z2).reshape(len(z1), -1)
        return np.linalg.norm(flat, axis=1), np.zeros(len(z1), dtype=np.int64)

    def orbit_elements(self, action, size: int, rng: np.random.Generator, n_nodes: int = 0):
        """The elements an orbit is drawn with (the identity first), or None when the group
        has no orbit to draw."""
        return None

    def orbit_paths(self, action, element: np.ndarray) -> np.ndarray:
        """Which drawn loop each orbit element lies on (the two cosets of dN: 0 and 1)."""
        return np.zeros_like(element)
