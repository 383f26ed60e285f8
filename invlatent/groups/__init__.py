"""Group actions and their maths: the ``Action`` spec, applying and sampling elements, O(3)
irreps in e3nn's convention, and exact quotient distances. Pure numpy; knows nothing of files.
"""

from invlatent.groups.action import Action, ActionError
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
    "Action",
    "ActionError",
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
