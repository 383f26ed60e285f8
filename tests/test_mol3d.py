"""3-D molecules: QM9 geometries, .xyz (through ASE; more in test_structures.py) and .npz readers,
and the e3nn network's exact equivariance checked against invlatent's own group action."""

import importlib.util

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("e3nn")

import torch  # noqa: E402

from invlatent.errors import InvlatentError  # noqa: E402
from invlatent.groups import act  # noqa: E402
from invlatent.pipelines.mol3d.data import load_geometries, load_npz, load_qm9_geometries  # noqa: E402
from invlatent.pipelines.mol3d.defaults import MODEL_DEFAULTS  # noqa: E402
from invlatent.pipelines.mol3d.model import Mol3dNet  # noqa: E402
from invlatent.pipelines.mol3d.poses import posed, random_permutations, random_rotations  # noqa: E402
from invlatent.pipelines.mol3d.structures import read_structures  # noqa: E402
from tests.conftest import random_molecules  # noqa: E402

needs_qm9 = pytest.mark.skipif(importlib.util.find_spec("qm9pack") is None, reason="no qm9pack")

WATER_METHANE = """3
water energy=-76.4 gap=0.3
O 0.0 0.0 0.117
H 0.0 0.757 -0.469
H 0.0 -0.757 -0.469
5
methane energy=-40.5 gap=0.5 note=x
C 0.0 0.0 0.0
H 0.629 0.629 0.629
H -0.629 -0.629 0.629
H -0.629 0.629 -0.629
H 0.629 -0.629 -0.629
"""

HEADER = (
    "XYZ_file,Index,SMILES,InChi,N_atoms,Stoichiometry,Elements,XYZ_Ang,Mulliken_pop,"
    "Harmonic_Freq_cmi,RotA_GHz,RotB_GHz,RotC_GHz,Dipole_debye,Polarizability_bohr3,HOMO_au,"
    "LUMO_au,HOMO_LUMO_gap_au,R2_bohr2,ZPVE_au,InternalEnergy_0K_au,InternalEnergy_298K_au,"
    "Enthalphy_298K_au,GibbsFreeEnergy_298K_au,Heatcapacity_Cv_cal_mol_K"
)


def _row(n, elements, xyz):
    props = ",".join(["1.0"] * 12)
    return f'"x.xyz",1,"C","I",{n},"[]","{elements}","{xyz}","[]","[]",1,1,1,{props}'


def test_qm9_csv_rows_parse_and_failures_are_counted(tmp_path):
    rows = [
        _row(2, "['O','H']", "[[0.,0.,0.],[0.96,0.,0.]]"),
        _row(2, "['O','H']", "[[0.,0.,0.],[0.96,0.]]"),  # one coordinate missing
        _row(1, "['Xx']", "[[0.,0.,0.]]"),  # unknown element
        _row(3, "['N','H','H']", "[[0.,0.,0.],[1.,0.,0.],[0.,1.,0.]]"),
    ]
    (tmp_path / "qm9_part1.csv").write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    for part in (2, 3):  # the parts are read whole before --limit samples them
        (tmp_path / f"qm9_part{part}.csv").write_text(HEADER + "\n")
    geo = load_qm9_geometries(limit=4, folder=str(tmp_path))
    assert len(geo) == 2
    assert geo.ids.tolist() == [0, 3]  # source rows kept: the user's rows stay theirs
    assert dict(geo.rejected) == {
        "atom count does not match coordinates": 1,
        "unknown element": 1,
    }
    assert geo.species[1, :3].tolist() == [7, 1, 1]
    assert geo.mask.sum(1).tolist() == [2, 3]
    np.testing.assert_allclose(geo.pos[0, 1], [0.96, 0.0, 0.0])


@needs_qm9
def test_qm9_geometries_have_hydrogens_targets_and_the_graph_vae_split():
    from invlatent.pipelines.qm9 import load_qm9

    geo = load_geometries("qm9", limit=6)
    assert geo.pos.shape == (6, 29, 3) and geo.pos.dtype == np.float32
    assert (geo.species[geo.mask] == 1).any()  # the hydrogens are there
    assert geo.targets.shape == (6, 12) and geo.target_names[7] == "u0"
    table = load_qm9(limit=6)
    assert (geo.split == table.split).all() and (geo.ids == table.ids).all()
    np.testing.assert_array_equal(geo.targets, table.targets)


def test_xyz_frames_and_shared_properties_become_targets(tmp_path):
    path = tmp_path / "two.xyz"
    path.write_text(WATER_METHANE)
    geo = read_structures(str(path))
    assert geo.pos.shape == (2, 5, 3)
    assert geo.mask.sum(1).tolist() == [3, 5]
    assert geo.species[0, :3].tolist() == [8, 1, 1]
    assert geo.target_names == ("energy", "gap")  # 'note=x' is not numeric: not a target
    np.testing.assert_allclose(geo.targets, [[-76.4, 0.3], [-40.5, 0.5]], rtol=1e-6)


def test_npz_reader_checks_shapes(tmp_path):
    pos = np.zeros((2, 3, 3), np.float32)
    species = np.array([[8, 1, 1], [6, 1, 0]])
    np.savez(tmp_path / "ok.npz", pos=pos, species=species, targets=np.array([1.0, 2.0]))
    geo = load_npz(str(tmp_path / "ok.npz"))
    assert geo.mask.tolist() == [[True, True, True], [True, True, False]]
    assert geo.targets.shape == (2, 1) and geo.target_names == ("t0",)
    np.savez(tmp_path / "bad.npz", pos=pos[:, :, :2], species=species)
    with pytest.raises(InvlatentError, match="pos must be float"):
        load_npz(str(tmp_path / "bad.npz"))


@pytest.fixture(scope="module", params=["8x0e+4x1o+2x2e+1x3o", "2x2e+1x0o+4x1o+8x0e+1x3o"])
def net(request):
    """The network, with --irreps as the gate emits them and in another order (odd scalars too)."""
    torch.manual_seed(0)
    cfg = {
        **MODEL_DEFAULTS,
        "irreps": request.param,
        "arch": "e3nn",
        "species": [1, 6, 7, 8],
        "targets": ["a", "b"],
        "intensive": [False, True],
        "avg_neighbors": 4.0,
        "lmax": 3,
    }
    return Mol3dNet(cfg).eval()


def _latents(net, pos, species, mask):
    with torch.no_grad():
        out = net(torch.from_numpy(pos), torch.from_numpy(species), torch.from_numpy(mask))
    return {k: v.double().numpy() for k, v in out.items()}


@pytest.mark.parametrize("improper", [False, True])
def test_network_is_equivariant_to_rotations_inversions_translations_and_atom_order(net, improper):
    """f((R, P)·x + t) == (R, P)·f(x) with invlatent's own action, for every latent layer."""
    from invlatent.pipelines.mol3d.geometries import Geometries

    pos, species, mask = random_molecules()
    rng = np.random.default_rng(1)
    rot = random_rotations(rng, len(pos), improper=improper)
    perm = random_permutations(rng, mask)
    geo = Geometries(pos, species, mask, np.arange(len(pos)), np.zeros(len(pos), np.uint8))
    moved = posed(geo, rot, perm)
    moved.pos = (moved.pos + rng.normal(0, 3, (len(pos), 1, 3))).astype(np.float32)
    base, out = (
        _latents(net, pos, species, mask),
        _latents(net, moved.pos, moved.species, moved.mask),
    )
    assert np.linalg.det(rot).min() < 0 if improper else np.linalg.det(rot).min() > 0
    for layer in ("nodes", "graph", "invariant"):
        action = net.layer_action(layer)
        want = (
            act(action, base[layer], rot, mask, g_perm=perm)[0]
            if action != "trivial"
            else base[layer]
        )
        err = np.linalg.norm(out[layer] - want) / np.linalg.norm(base[layer])
        assert err < 1e-5, (layer, err)
        # the layer really moves: comparing with the unmoved latents would fail
        if action != "trivial":
            assert np.linalg.norm(out[layer] - base[layer]) / np.linalg.norm(base[layer]) > 1e-2
    np.testing.assert_allclose(out["pred"], base["pred"], atol=1e-4)
    assert np.abs(base["nodes"][~mask]).max() == 0.0  # padding stays zero


def test_latent_irreps_layout_is_e3nns(net):
    """The graph latent rotates by e3nn's D_from_matrix of the declared action's irreps."""
    from e3nn import o3

    pos, species, mask = random_molecules(4, seed=2)
    rot = random_rotations(np.random.default_rng(3), 1)[0]
    base = _latents(net, pos, species, mask)["graph"]
    moved = _latents(net, (pos @ rot.T).astype(np.float32), species, mask)["graph"]
    d = (
        o3.Irreps(net.layer_action("graph").split(":", 1)[1])
        .D_from_matrix(torch.from_numpy(rot))
        .numpy()
    )
    np.testing.assert_allclose(moved, base @ d.T, atol=1e-4 * np.abs(base).max())
