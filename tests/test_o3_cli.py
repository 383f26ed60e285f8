"""O(3) files through the real CLI: import e3nn-style features, project, check, and bad input."""

import json

import numpy as np
import pytest
from conftest import assert_one_line_error

from invlatent import groups
from invlatent.format.latentfile import read

GROUP = "sn*o3:2x0e+1x1o+1x2e"


@pytest.fixture
def node_arrays(tmp_path, rng):
    """An .npz as a MACE/e3nn user would save it: padded node features, mask, the elements."""
    z = rng.standard_normal((40, 4, 10)).astype(np.float32)
    mask = rng.random((40, 4)) < 0.8
    R, P = groups.sample(GROUP, 40, rng, 4)
    z, mask = groups.act(GROUP, z, (R, P), mask)
    path = tmp_path / "feats.npz"
    np.savez(path, z=z, mask=mask, g=R.astype(np.float32), g_perm=P, labels=np.arange(40) % 2)
    return path


def test_import_project_check_round_trip(cli, tmp_path, node_arrays):
    st = tmp_path / "z.st"
    assert (
        cli("import", node_arrays, "--group", "SN*O3: 2x0e + 1x1o + 1x2e", "-o", st).exit_code == 0
    )
    lf = read(str(st))
    assert str(lf.action) == GROUP and lf.g_kind == "rotation+perm" and "g_perm" in lf.extra
    out = tmp_path / "p.st"
    assert cli("project", "--method", "canonical", st, "-o", out).exit_code == 0
    p = read(str(out))
    assert str(p.action) == "trivial" and p.extra["canon"].shape == (40, 3, 3)
    res = cli(
        "check", st, "-m", "power", "-m", "canonical", "--pairs", "40", "--samples", "16", "--json"
    )
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["quotient"].startswith("upper bound")
    assert all(m["invariance_error"] < 1e-5 for m in report["methods"])


def test_import_e3nn_features_saved_with_torch(cli, tmp_path, rng):
    torch = pytest.importorskip("torch")
    z = rng.standard_normal((6, 4)).astype(np.float32)
    torch.save({"z": torch.from_numpy(z)}, tmp_path / "f.pt")
    assert (
        cli("import", tmp_path / "f.pt", "--group", "so3:0e+1o", "-o", tmp_path / "o.st").exit_code
        == 0
    )
    lf = read(str(tmp_path / "o.st"))
    assert str(lf.action) == "so3:1x0e+1x1o" and np.array_equal(np.asarray(lf.z), z)


def test_project_list_prints_o3_guarantees(cli):
    res = cli("project", "--list", "--json")
    assert res.exit_code == 0
    tables = json.loads(res.stdout)
    o3 = {r["method"]: r for r in tables["o3:16x0e+8x1o+4x2e"]}
    assert {"norm", "power", "bispectrum", "canonical", "random-max"} <= set(o3)
    assert o3["canonical"]["element"] == "canon"
    nodes = {r["method"] for r in tables["sn*o3:16x0e+8x1o+4x2e"]}
    assert {"norm", "power", "bispectrum", "canonical"} <= nodes


@pytest.mark.parametrize("irreps", ["16x0q", "x1o", "1o+"])
def test_unreadable_irreps_on_import(cli, tmp_path, rng, irreps):
    np.save(tmp_path / "z.npy", rng.standard_normal((5, 4)).astype(np.float32))
    out = tmp_path / "o.st"
    res = cli("import", tmp_path / "z.npy", "--group", f"o3:{irreps}", "-o", out)
    assert_one_line_error(res, "cannot read irreps", irreps)
    assert not out.exists()


def test_d_not_matching_the_irreps(cli, tmp_path, rng):
    np.save(tmp_path / "z.npy", rng.standard_normal((5, 5)).astype(np.float32))
    res = cli("import", tmp_path / "z.npy", "--group", "o3:1x0e+1x1o", "-o", tmp_path / "o.st")
    assert_one_line_error(res, "z.npy", "[B, 4]")
    assert not (tmp_path / "o.st").exists()


def _with_g(cli, tmp_path, rng, g, group="so3:1x1o"):
    """Import three 1o vectors with the rotations g, under ``group``."""
    np.save(tmp_path / "z.npy", rng.standard_normal((3, 3)).astype(np.float32))
    np.save(tmp_path / "g.npy", g.astype(np.float32))
    out = tmp_path / "o.st"
    return cli(
        "import", tmp_path / "z.npy", "--group", group, "--elements", tmp_path / "g.npy", "-o", out
    )


def test_g_not_orthogonal(cli, tmp_path, rng):
    res = _with_g(cli, tmp_path, rng, rng.standard_normal((3, 3, 3)))
    assert_one_line_error(res, "z.npy", "not orthogonal")
    assert not (tmp_path / "o.st").exists()


def test_improper_g_for_so3_but_not_o3(cli, tmp_path, rng):
    R = -groups.sample("so3:1o", 3, rng)
    assert_one_line_error(_with_g(cli, tmp_path, rng, R), "determinant −1", "so3")
    assert not (tmp_path / "o.st").exists()
    assert _with_g(cli, tmp_path, rng, R, group="o3:1x1o").exit_code == 0


def test_mask_of_the_wrong_shape(cli, tmp_path, rng):
    np.save(tmp_path / "z.npy", rng.standard_normal((5, 4, 4)).astype(np.float32))
    np.save(tmp_path / "m.npy", np.ones((5, 3), dtype=bool))
    res = cli(
        "import",
        tmp_path / "z.npy",
        "--group",
        "sn*o3:1x0e+1x1o",
        "--mask",
        tmp_path / "m.npy",
        "-o",
        tmp_path / "o.st",
    )
    assert_one_line_error(res, "mask has shape [5, 3]", "[5, 4]")
    assert not (tmp_path / "o.st").exists()


def test_o3_method_asked_of_a_c8_file(cli, tmp_path):
    out = tmp_path / "o.st"
    res = cli("project", "--method", "norm", "sample_latents/c8.st", "-o", out)
    assert_one_line_error(res, "unknown method 'norm' for action c8")
    assert not out.exists()


def test_rotation_perm_needs_a_permutation_tensor(cli, tmp_path, rng):
    np.save(tmp_path / "z.npy", rng.standard_normal((3, 2, 3)).astype(np.float32))
    np.save(tmp_path / "g.npy", groups.sample("so3:1o", 3, rng).astype(np.float32))
    res = cli(
        "import",
        tmp_path / "z.npy",
        "--group",
        "sn*so3:1x1o",
        "--elements",
        tmp_path / "g.npy",
        "-o",
        tmp_path / "o.st",
    )
    assert_one_line_error(res, "g_perm")
    np.save(tmp_path / "p.npy", np.array([[0, 0], [0, 1], [1, 0]]))
    res = cli(
        "import",
        tmp_path / "z.npy",
        "--group",
        "sn*so3:1x1o",
        "--elements",
        tmp_path / "g.npy",
        "--elements-perm",
        tmp_path / "p.npy",
        "-o",
        tmp_path / "o.st",
    )
    assert_one_line_error(res, "not permutations")


def test_check_counts_degenerate_canonical_frames(cli, tmp_path, rng):
    """Pseudo-vectors alone cannot fix an O(3) frame: check says so and measures the damage."""
    z = rng.standard_normal((30, 9)).astype(np.float32)
    np.save(tmp_path / "z.npy", z)
    assert (
        cli("import", tmp_path / "z.npy", "--group", "o3:3x1e", "-o", tmp_path / "z.st").exit_code
        == 0
    )
    res = cli("check", tmp_path / "z.st", "-m", "canonical", "--pairs", "20", "--json")
    row = json.loads(res.stdout)["methods"][0]
    assert row["degenerate_frames"] == json.loads(res.stdout)["samples"]
    assert row["invariance_error"] > 0.1
    text = cli("check", tmp_path / "z.st", "-m", "canonical", "--pairs", "20").stderr
    assert "degenerate frame" in text


@pytest.mark.parametrize("name", ["o3.st", "sn_o3.st"])
def test_sample_files_carry_their_elements_and_are_reproducible(name, tmp_path):
    """The shipped samples read back, record (R, P), and are re-made bit for bit."""
    from invlatent.format.latentfile import write
    from invlatent.format.synthetic import make_synthetic

    lf = read(f"sample_latents/{name}")
    assert lf.g is not None and lf.g.shape[1:] == (3, 3)
    assert ("g_perm" in lf.extra) == lf.action.nodes
    spec = {"o3.st": {}, "sn_o3.st": {"n_nodes": 5}}[name]
    write(
        make_synthetic(str(lf.action), n_samples=400, seed=0, noise=0.05, **spec),
        str(tmp_path / name),
    )
    assert (tmp_path / name).read_bytes() == open(f"sample_latents/{name}", "rb").read()
