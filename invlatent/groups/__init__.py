"""Group actions and their maths: the ``Action`` spec and its families, applying and sampling
elements, O(3) irreps in e3nn's convention, and exact quotient distances. Pure numpy; knows
nothing of files. Importing the package registers every family (``groups/families/``).
"""

from invlatent.groups import families
from invlatent.groups.action import Action, ActionError
from invlatent.groups.family import FAMILIES, Family
from invlatent.groups.transforms import (
    act,
    compose,
    elements,
    exact_elements,
    grid_element,
    inverse,
    regular_permutations,
    rotate_irreps,
    sample,
    transform_grid,
)

__all__ = [
    "FAMILIES",
    "Action",
    "ActionError",
    "Family",
    "families",
    "act",
    "compose",
    "elements",
    "exact_elements",
    "grid_element",
    "inverse",
    "regular_permutations",
    "rotate_irreps",
    "sample",
    "transform_grid",
]
