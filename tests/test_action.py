"""The action spec: parsing, canonical strings, shape checks."""

import pytest

from invlatent.action import Action, ActionError

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
    ],
)
def test_other_spellings_normalise(text, canonical):
    assert str(Action.parse(text)) == canonical


@pytest.mark.parametrize(
    "text", ["c1", "d0", "s3", "so3", "so2", "so2:", "so2:-1", "so2:a", "rot", ""]
)
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
    ],
)
def test_shape_problem_matches_the_layout(text, shape, ok):
    assert (Action.parse(text).shape_problem(shape) is None) == ok
