"""Group families: an Action is validated by its family, and a new family is one class plus its
registration: acting, sampling, shapes, quotient distances and orbits then work everywhere."""

import numpy as np
import pytest

from invlatent import groups
from invlatent.analysis.viz import group_orbits
from invlatent.groups import FAMILIES, Action, ActionError, Family
from invlatent.groups.family import register
from invlatent.groups.quotient import quotient_distance


class SignFlip(Family):
    """Z2 acting on vectors z (B, D) by z -> -z: a family that lives in this test alone."""

    kind = "sign"
    projections = "sign"
    closed_orbits = True

    def parse(self, text):
        return Action("sign") if text == "sign" else None

    def group_size(self, action):
        return 2

    def g_kind(self, action):
        return "index"

    def shape_problem(self, action, shape):
        return None if len(shape) == 2 else f"action sign needs z [B, D], got {list(shape)}"

    def act(self, action, z, g, mask=None, g_perm=None):
        return np.where(np.asarray(g)[:, None] == 1, -z, z), mask

    def sample(self, action, batch, rng, n_nodes=0):
        return rng.integers(0, 2, size=batch, dtype=np.int64)

    def align(self, action, z1, z2, mask1=None, mask2=None):
        d = np.stack([np.linalg.norm(z1 - z2, axis=1), np.linalg.norm(z1 + z2, axis=1)], 1)
        return d.min(axis=1), d.argmin(axis=1)

    def orbit_elements(self, action, size, rng, n_nodes=0):
        return np.arange(2)


@pytest.fixture
def sign():
    register(SignFlip())
    yield Action.parse("sign")
    del FAMILIES["sign"]


def test_an_action_of_no_family_or_with_bad_fields_cannot_be_made():
    for bad in (lambda: Action("bogus"), lambda: Action("cyclic", 1), lambda: Action("so2")):
        with pytest.raises(ActionError):
            bad()


def test_a_new_family_works_through_the_shared_functions(sign, rng):
    assert str(sign) == "sign" and sign.group_size == 2 and sign.finite
    assert sign.shape_problem((4, 3)) is None and sign.shape_problem((4, 3, 2))
    z = rng.standard_normal((50, 3))
    g = groups.sample(sign, 50, rng)
    moved = groups.act(sign, z, g)[0]
    assert np.allclose(quotient_distance(sign, z, moved), 0.0)
    other = rng.standard_normal((50, 3))
    brute = np.minimum(np.linalg.norm(z - other, axis=1), np.linalg.norm(z + other, axis=1))
    assert np.allclose(quotient_distance(sign, z, other), brute)
    orbits = group_orbits(sign, z, None, np.arange(3), 8, seed=0)
    assert np.allclose(orbits.z[1::2], -orbits.z[::2]) and orbits.closed
