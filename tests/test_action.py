"""The action spec: parsing, canonical strings, shape checks."""

import pytest

from invlatent.groups.action import Action, ActionError

CANONICAL = [
    "sn",
    "trivial",
    "c2",
    "c4",
    "c8",
    "c16",
    "d2",
    "d4",
    "so2:0",
    "so2:0,1,1,2",
    "so2:3,0",
    "c4:grid",
    "c8:grid",
    "d4:grid",
]


@pytest.mark.parametrize("text", CANONICAL)
def test_canonical_string_round_trips(text):
    action = Action.parse(text)
    assert str(action) == text
    assert Action.parse(str(action)) == action


@pytest.mark.parametrize(
    "text, canonical",
    [
        ("C8", "c8"),
        (" d4 ", "d4"),
        ("SO2:0, 1,1,2", "so2:0,1,1,2"),
        ("so2:0x1,1x2,2", "so2:0,1,1,2"),
        ("C4:GRID", "c4:grid"),
        (" d4 : grid ", "d4:grid"),
    ],
)
def test_other_spellings_normalise(text, canonical):
    assert str(Action.parse(text)) == canonical


@pytest.mark.parametrize(
    "text",
    ["c1", "d0", "s3", "so3", "so2", "so2:", "so2:-1", "so2:a", "rot", "", "c1:grid", "c4:grids",
     "c4grid", "sn:grid", "so2:grid", "trivial:grid"],
)  # fmt: skip
def test_unparseable_groups_are_refused_with_the_text(text):
    with pytest.raises(ActionError, match="group|frequenc|order"):
        Action.parse(text)


def test_so2_dimension_counts_one_per_scalar_two_per_rotating_pair():
    assert Action.parse("so2:0,1,1,2").so2_dim == 7
    assert Action.parse("so2:0,0").so2_dim == 2


@pytest.mark.parametrize(
    "text, shape, ok",
    [
        ("c8", (5, 3, 8), True),
        ("c8", (5, 3, 7), False),
        ("c8", (5, 8), False),
        ("d4", (5, 3, 8), True),
        ("d4", (5, 3, 4), False),
        ("sn", (5, 9, 2), True),
        ("sn", (5, 9), False),
        ("so2:0,1,1,2", (5, 7), True),
        ("so2:0,1,1,2", (5, 6), False),
        ("trivial", (5, 2, 3, 4), True),
        ("c4:grid", (5, 3, 4, 6, 6), True),
        ("c4:grid", (5, 3, 4, 6, 7), False),
        ("c4:grid", (5, 3, 4, 0, 0), False),
        ("c4:grid", (5, 3, 8, 6, 6), False),
        ("c4:grid", (5, 3, 4), False),
        ("c4", (5, 3, 4, 6, 6), False),
        ("d4:grid", (5, 3, 8, 7, 7), True),
        ("d4:grid", (5, 3, 4, 7, 7), False),
    ],
)
def test_shape_problem_matches_the_layout(text, shape, ok):
    assert (Action.parse(text).shape_problem(shape) is None) == ok


@pytest.mark.parametrize(
    "shape, fragment",
    [((5, 3, 4, 6, 7), "square grid"), ((5, 3, 8, 6, 6), "axis 2 of 4"), ((5, 3, 4), "[B, F, 4, H, W]")],
)  # fmt: skip
def test_grid_shape_problems_say_what_is_wrong(shape, fragment):
    problem = Action.parse("c4:grid").shape_problem(shape)
    assert fragment in problem and "\n" not in problem


def test_grid_actions_pool_to_their_regular_fields():
    grid = Action.parse("d4:grid")
    assert grid.grid and not Action.parse("d4").grid
    assert grid.pooled == Action.parse("d4") and grid.group_size == 8
    assert grid.g_kind == Action.parse("d4").g_kind == "index"
