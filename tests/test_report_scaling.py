"""The complete cN/dN invariants in the form a linear probe reads well (issue 16): bispectrum
amplitudes + phase-normalised triple products, random-max with 2F|G| templates by default."""

from __future__ import annotations

import numpy as np
import pytest

from invlatent import groups
from invlatent.groups.action import Action
from invlatent.projections import project_array


def _fields(rng, b=40, f=5, n=8):
    return rng.standard_normal((b, f, n)).astype(np.float32)


def test_bispectrum_starts_with_the_amplitudes_of_the_mean_field_and_every_field(rng):
    z = _fields(rng)
    out = project_array("c8", z, method="bispectrum")
    amps = np.abs(np.fft.rfft(np.concatenate([z.mean(1, keepdims=True), z], axis=1), axis=-1))
    np.testing.assert_allclose(out[:, : amps[0].size], amps.reshape(len(z), -1), atol=1e-5)


def test_bispectrum_triple_products_have_the_field_amplitudes_and_degree_one(rng):
    z, n, f = _fields(rng), 8, 5
    out = project_array("c8", z, method="bispectrum")
    k = n // 2 + 1
    amps = out[:, : (f + 1) * k].reshape(-1, f + 1, k)
    rest = out[:, (f + 1) * k :].reshape(-1, f + 1, 2 * k - 1)  # per field: re at 0, (re, im)
    real0, cplx = rest[:, :, 0], rest[:, :, 1:].reshape(-1, f + 1, k - 1, 2)
    np.testing.assert_allclose(np.abs(real0), amps[:, :, 0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.hypot(cplx[..., 0], cplx[..., 1]), amps[:, :, 1:], rtol=1e-4,
                               atol=1e-5)  # fmt: skip
    scaled = project_array("c8", 3.0 * z, method="bispectrum")
    np.testing.assert_allclose(scaled, 3.0 * out, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("group", ["c8", "d4"])
def test_the_new_bispectrum_stays_invariant_and_separates_what_power_cannot(rng, group):
    action = Action.parse(group)
    z = rng.standard_normal((30, 3, action.group_size)).astype(np.float32)
    g = groups.sample(action, len(z), rng)
    moved = groups.act(action, z, g)[0]
    a, b = (project_array(group, x, method="bispectrum") for x in (z, moved))
    assert np.abs(a - b).max() <= 1e-4 * np.abs(a).max()
    shifted = z.copy()
    halves = z[:, 0].reshape(len(z), -1, action.order)  # dN: both cosets of the field
    shifted[:, 0] = np.roll(halves, 1, axis=-1).reshape(len(z), -1)  # one field moved alone
    p = [project_array(group, x, method="power") for x in (z, shifted)]
    bis = project_array(group, shifted, method="bispectrum")
    np.testing.assert_allclose(p[0], p[1], atol=1e-5)
    assert np.linalg.norm(bis - a, axis=1).min() > 1e-3


def test_random_max_defaults_to_the_separating_number_of_templates(rng):
    z = _fields(rng, f=3)
    out = project_array("c8", z, method="random-max")
    assert out.shape == (len(z), 2 * 3 * 8)
    np.testing.assert_array_equal(out, project_array("c8", z, method="random-max", dim=48))
