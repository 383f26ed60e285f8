"""The trivial group: ``z (B, ...)`` is invariant already."""

from __future__ import annotations

from invlatent.groups.action import Action
from invlatent.groups.family import Family, register


class Trivial(Family):
    """The group that acts as the identity."""

    kind = "trivial"
    projections = "trivial"
    trivial = True

    def parse(self, text: str):
        return Action("trivial") if text == "trivial" else None


TRIVIAL = register(Trivial())
