"""O(3)/SO(3) irreps pinned to e3nn's convention: parsing, Wigner-D, the action on latents."""

import numpy as np
import pytest

from invlatent import groups
from invlatent.groups.action import Action, ActionError
from invlatent.groups.irreps import D_from_matrix, Irreps, clebsch_gordan, random_rotations, rotate

torch = pytest.importorskip("torch")
o3 = pytest.importorskip("e3nn.o3")

ALL_L3 = "2x0e+1x0o+2x1o+1x1e+2x2e+1x2o+1x3o+2x3e"


@pytest.fixture
def float64():
    """e3nn builds its Wigner-D in torch's default dtype: make it float64 for exact checks."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _rotations(n, seed=0):
    """Haar rotations from e3nn, half of them composed with the inversion."""
    torch.manual_seed(seed)
    R = o3.rand_matrix(n, dtype=torch.float64)
    R[n // 2 :] *= -1
    return R


@pytest.mark.parametrize(
    "text", ["16x0e+8x1o+4x2e", "0e+1o", "3x1e", "1x0e", "1y+2y", "16x0e + 8x1o", "0x1e+1x0e"]
)
def test_irreps_print_as_e3nn_and_round_trip(text):
    assert str(Irreps(text)) == str(o3.Irreps(text))
    assert Irreps(str(Irreps(text))) == Irreps(text)
    assert Irreps(text).dim == o3.Irreps(text).dim


@pytest.mark.parametrize("text", ["o3:16x0e+8x1o", "so3:0e+1o", "sn*o3:3x1e", "sn*so3:1x0e+1x2o"])
def test_action_strings_are_canonical_and_round_trip(text):
    a = Action.parse(text.upper().replace("+", " + "))
    assert str(a) == text.split(":")[0] + ":" + str(o3.Irreps(text.split(":")[1]))
    assert Action.parse(str(a)) == a
    assert a.g_kind == ("rotation+perm" if a.nodes else "rotation")


@pytest.mark.parametrize("text", ["o3:16x0q", "o3:x1o", "o3:1o+", "so3", "o3:", "sn*o3:1x"])
def test_unreadable_irreps_are_refused(text):
    with pytest.raises(ActionError, match="group"):
        Action.parse(text)


@pytest.mark.parametrize("l", [0, 1, 2, 3])
@pytest.mark.parametrize("parity", ["e", "o"])
def test_wigner_D_equals_e3nn(l, parity, float64):
    R = _rotations(8)
    s = f"2x{l}{parity}"
    expected = o3.Irreps(s).D_from_matrix(R).numpy()
    np.testing.assert_allclose(D_from_matrix(s, R.numpy()), expected, atol=1e-12)


def test_l1_is_the_vector_itself_and_d_is_a_representation():
    R = random_rotations(6, np.random.default_rng(1), improper=True)
    np.testing.assert_allclose(D_from_matrix("1o", R), R, atol=1e-14)
    a, b = D_from_matrix(ALL_L3, R[:3]), D_from_matrix(ALL_L3, R[3:])
    np.testing.assert_allclose(a @ b, D_from_matrix(ALL_L3, R[:3] @ R[3:]), atol=1e-12)
    np.testing.assert_allclose(
        a @ np.swapaxes(a, 1, 2), np.broadcast_to(np.eye(len(a[0])), a.shape), atol=1e-12
    )


def test_clebsch_gordan_equals_e3nn_wigner_3j():
    for ls in [(1, 1, 2), (1, 2, 3), (2, 2, 2), (3, 3, 2), (2, 1, 1)]:
        np.testing.assert_allclose(
            clebsch_gordan(*ls), o3.wigner_3j(*ls, dtype=torch.float64).numpy(), atol=1e-12
        )


def _network(irreps_out):
    """A small e3nn model: spherical harmonics of the atoms' positions, coupled to irreps_out."""
    sh = o3.Irreps.spherical_harmonics(3, p=-1)
    torch.manual_seed(0)
    tp = o3.FullyConnectedTensorProduct(sh, sh, irreps_out)

    def f(pos):
        y = o3.spherical_harmonics(sh, pos - pos.mean(dim=-2, keepdim=True), normalize=False)
        return tp(y, y.sum(dim=-2, keepdim=True).expand_as(y))  # each atom with the whole set

    return f


def test_e3nn_network_latents_transform_by_invlatents_action():
    """f(x rotated by R) == R·f(x) for an e3nn network, l ≤ 3, both parities, det ±1."""
    f = _network(o3.Irreps(ALL_L3))
    pos = torch.randn(6, 5, 3, dtype=torch.float64).float()
    R = _rotations(6).float()
    z = f(pos).sum(dim=1).detach().numpy()
    zr = f(pos @ R.transpose(1, 2)).sum(dim=1).detach().numpy()
    act = groups.act(f"o3:{ALL_L3}", z, R.numpy().astype(np.float64))[0]
    assert np.abs(zr - act).max() <= 1e-5 * np.abs(zr).max()
    assert np.abs(zr - z).max() > 0.1 * np.abs(zr).max()  # the rotation really moves z


def test_e3nn_node_features_transform_by_the_product_action():
    """Per-atom features with atoms reordered and the molecule rotated: (R, P)·f(x)."""
    f = _network(o3.Irreps("1x0e+1x1o+1x2e+1x3o"))
    pos = torch.randn(4, 5, 3)
    R, perm = groups.sample("sn*o3:0e", 4, np.random.default_rng(3), n_nodes=5)
    moved = pos[torch.arange(4)[:, None], torch.as_tensor(perm)] @ torch.as_tensor(
        R
    ).float().transpose(1, 2)
    z = f(pos).detach().numpy()
    act, _ = groups.act("sn*o3:1x0e+1x1o+1x2e+1x3o", z, (R, perm))
    zr = f(moved).detach().numpy()
    assert np.abs(zr - act).max() <= 1e-5 * np.abs(zr).max()


def test_act_is_a_homomorphism_on_products_and_keeps_dtype(rng):
    action = Action.parse(f"sn*o3:{ALL_L3}")
    z = rng.standard_normal((5, 4, action.irreps.dim)).astype(np.float32)
    mask = rng.random((5, 4)) < 0.7
    (r1, p1), (r2, p2) = (groups.sample(action, 5, rng, 4) for _ in range(2))
    z2, m2 = groups.act(action, z, (r2, p2), mask)
    z12, m12 = groups.act(action, z2, (r1, p1), m2)
    composed = (r1 @ r2, np.take_along_axis(p2, p1, axis=1))
    zc, mc = groups.act(action, z, composed, mask)
    assert z12.dtype == np.float32
    np.testing.assert_allclose(z12, zc, atol=1e-5)
    np.testing.assert_array_equal(m12, mc)


def test_sample_is_seeded_and_so3_draws_rotations_only():
    a = groups.sample("o3:1o", 400, np.random.default_rng(5))
    b = groups.sample("o3:1o", 400, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    det = np.linalg.det(a)
    assert 150 < (det < 0).sum() < 250 and np.allclose(np.abs(det), 1)
    s = groups.sample("so3:1o", 400, np.random.default_rng(5))
    assert np.allclose(np.linalg.det(s), 1)
    # Haar: the rotated unit vector e_z is uniform on the sphere (mean ~ 0, second moment 1/3)
    v = s[:, :, 2]
    assert np.abs(v.mean(axis=0)).max() < 0.1 and np.abs((v**2).mean(axis=0) - 1 / 3).max() < 0.05


def test_rotate_matches_explicit_matrix(rng):
    R = random_rotations(3, rng, improper=True)
    z = rng.standard_normal((3, Irreps(ALL_L3).dim))
    expected = np.einsum("bij,bj->bi", D_from_matrix(ALL_L3, R), z)
    np.testing.assert_allclose(rotate(ALL_L3, z, R), expected, atol=1e-12)
