"""The 3-D molecule commands through the real CLI: train mol3d, encode (file contract, poses
recorded in g), check MODEL DATA, and their one-line errors."""

import importlib.util
import json

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("e3nn")
if importlib.util.find_spec("qm9pack") is None:
    pytest.skip("no qm9pack", allow_module_level=True)

from invlatent.format import latentfile as lfm  # noqa: E402
from invlatent.format.checkpoint import read_config  # noqa: E402
from invlatent.groups import act  # noqa: E402
from tests.conftest import Cli, assert_one_line_error  # noqa: E402

IRREPS = "8x0e+2x1o+1x2e"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A tiny e3nn model trained for one pass over 120 QM9 molecules."""
    path = tmp_path_factory.mktemp("mol3d") / "m.pt"
    r = Cli()(
        "train", "mol3d", "--data", "qm9", "--limit", 120, "--epochs", 1, "--irreps", IRREPS,
        "--batch-size", 16, "--max-minutes", 0, "--threads", 1, "-o", path,
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert "val MAE" in r.stderr and "test MAE  u0" in r.stderr
    return path


def test_checkpoint_config_names_family_targets_and_split(model):
    cfg = read_config(str(model))
    assert cfg["family"] == "mol3d" and cfg["architecture"] == "e3nn"
    assert cfg["model"]["targets"] == ["u0"] and cfg["model"]["species"] == [1, 6, 7, 8, 9]
    assert cfg["data"]["train"] + cfg["data"]["val"] + cfg["data"]["test"] == 120
    assert set(cfg["test_mae"]) == {"u0"}


def test_short_training_reduces_the_loss():
    from invlatent.pipelines.mol3d.train import train_mol3d

    _, cfg = train_mol3d(
        "qm9", limit=300, epochs=4, batch_size=16, max_minutes=0, threads=1, log=lambda s: None,
        model_opts={"irreps": IRREPS},
    )  # fmt: skip
    losses = [h["loss"] for h in cfg["history"]]
    assert len(losses) >= 4
    assert losses[-1] < 0.7 * losses[0], losses


def _encode(cli, model, *args):
    r = cli("encode", model, "qm9", "--limit", 24, *args)
    assert r.exit_code == 0, r.stderr
    return r.stdout_bytes, lfm.loads(r.stdout_bytes)


def test_encode_nodes_in_random_poses_records_the_element(cli, model, tmp_path):
    raw, lf = _encode(cli, model, "--rotate", "random", "--permute", "random", "--seed", 3)
    assert str(lf.action) == f"sn*o3:{IRREPS}"
    assert lf.z.shape == (24, 29, 19) and lf.z.dtype == np.float32
    assert lf.g.shape == (24, 3, 3) and lf.g_kind == "rotation+perm"
    assert lf.extra["g_perm"].shape == (24, 29) and lf.mask.shape == (24, 29)
    assert lf.targets.shape == (24, 12) and len(lf.ids) == 24 and np.all(np.diff(lf.ids) > 0)
    np.testing.assert_allclose(np.linalg.det(lf.g), 1.0, atol=1e-9)
    _, plain = _encode(cli, model)
    assert plain.g is None
    moved, mask = act(lf.action, plain.z.astype(np.float64), lf.g, plain.mask, lf.extra["g_perm"])
    assert (mask == lf.mask).all()
    assert np.abs(moved - lf.z).max() <= 1e-5 * np.abs(lf.z).max()
    assert np.abs(plain.z - lf.z).max() > 1e-2 * np.abs(lf.z).max()
    again = tmp_path / "again.st"
    args = ["--rotate", "random", "--permute", "random", "--seed", 3, "-o", again]
    assert cli("encode", model, "qm9", "--limit", 24, *args).exit_code == 0
    assert again.read_bytes() == raw  # same seed, same bytes; stdout holds the file exactly
    other, _ = _encode(cli, model, "--rotate", "random", "--permute", "random", "--seed", 4)
    assert other != raw


def test_encode_graph_invariant_layers_copies_and_inversions(cli, model):
    _, graph = _encode(cli, model, "--layer", "graph", "--rotate", "o3", "--copies", 3)
    assert str(graph.action) == f"o3:{IRREPS}" and graph.z.shape == (72, 19)
    assert graph.mask is None and graph.g_kind == "rotation"
    assert graph.ids.tolist() == np.repeat(_encode(cli, model)[1].ids, 3).tolist()
    assert (np.linalg.det(graph.g) < 0).any() and (np.linalg.det(graph.g) > 0).any()
    same, _ = _encode(
        cli, model, "--layer", "graph", "--rotate", "random", "--improper", "--copies", 3
    )
    assert same == _encode(cli, model, "--layer", "graph", "--rotate", "o3", "--copies", 3)[0]
    _, inv = _encode(cli, model, "--layer", "invariant", "--rotate", "random", "--copies", 3)
    assert str(inv.action) == "trivial" and inv.z.shape == (72, 8)
    spread = np.abs(inv.z.reshape(24, 3, 8) - inv.z.reshape(24, 3, 8)[:, :1]).max()
    assert spread <= 1e-5 * np.abs(inv.z).max()


def test_encode_shares_under_torchrun_join_into_the_one_process_rows(cli, model, monkeypatch):
    """Each rank encodes its block of the posed rows; the blocks in rank order are the file
    (poses, ids, targets exactly; latents to float32 rounding of other batches)."""
    from invlatent.pipelines.mol3d.encode import encode_checkpoint

    args = dict(rotate="random", permute="random", copies=2, limit=11, seed=5)
    r = cli("encode", model, "qm9", *[x for k, v in args.items() for x in (f"--{k}", v)])
    assert r.exit_code == 0, r.stderr
    whole = lfm.loads(r.stdout_bytes).tensors()
    monkeypatch.setenv("WORLD_SIZE", "2")
    parts = []
    for rank in ("0", "1"):
        monkeypatch.setenv("RANK", rank)
        parts.append(encode_checkpoint(str(model), "qm9", **args).tensors())
    assert 0 < len(parts[0]["z"]) < len(whole["z"])
    for name, arr in whole.items():
        joined = np.concatenate([p[name] for p in parts])
        if name == "z":  # other batches round differently in float32
            np.testing.assert_allclose(joined, arr, rtol=0, atol=1e-6 * np.abs(arr).max())
        else:
            np.testing.assert_array_equal(joined, arr, err_msg=name)


def test_encode_xyz_file_and_its_malformed_frame(cli, model, tmp_path):
    good = tmp_path / "m.xyz"
    good.write_text("3\nwater energy=-76.4\nO 0 0 0.117\nH 0 0.757 -0.469\nH 0 -0.757 -0.469\n")
    r = cli("encode", model, good, "--layer", "graph")
    assert r.exit_code == 0, r.stderr
    lf = lfm.loads(r.stdout_bytes)
    assert lf.z.shape == (1, 19) and lf.target_names == ["energy"]
    bad = tmp_path / "bad.xyz"
    bad.write_text("3\nwater\nO 0 0 0.117\nH 0 0.757\nH 0 -0.757 -0.469\n")
    assert_one_line_error(cli("encode", model, bad), "bad.xyz", "ASE cannot read it")
    sulfur = tmp_path / "s.xyz"
    sulfur.write_text("1\nc\nS 0 0 0\n")
    assert_one_line_error(cli("encode", model, sulfur), "elements S are unknown")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--rotate", "c8"], "rotate for 3-D molecules"),
        (["--layer", "mean"], "layer for a 3-D model"),
        (["--permute", "sorted"], "--permute must be"),
        (["--split", "dev"], "--split must be"),
        (["--improper"], "--improper needs --rotate random"),
    ],
)
def test_encode_bad_options_are_one_line_errors(cli, model, args, fragment):
    assert_one_line_error(cli("encode", model, "qm9", "--limit", 10, *args), fragment)


def _xyz_of_qm9(path, count: int) -> None:
    """``count`` QM9 molecules (the `--limit` sample) written as a multi-frame .xyz file."""
    from invlatent.pipelines.mol3d.data import load_geometries
    from invlatent.pipelines.mol3d.geometries import SYMBOLS

    geo = load_geometries("qm9", limit=count)
    lines = []
    for pos, species, mask in zip(geo.pos, geo.species, geo.mask, strict=True):
        lines += [str(mask.sum()), "qm9"]
        lines += [
            f"{SYMBOLS[z]} {x:.6f} {y:.6f} {w:.6f}"
            for z, (x, y, w) in zip(species[mask], pos[mask], strict=True)
        ]
    path.write_text("\n".join(lines) + "\n")


def test_check_measures_equivariance_of_every_layer(cli, model, tmp_path):
    data = tmp_path / "q.xyz"
    _xyz_of_qm9(data, 60)
    r = cli("check", model, data, "--samples", 12, "--json")
    assert r.exit_code == 0, r.stderr
    res = json.loads(r.stdout_bytes)
    kinds = {(row["transform"], row["layer"]) for row in res["rows"]}
    assert len(kinds) == 18
    assert res["max_error"] < 1e-5
    assert res["samples"] >= 5  # the test split of 60 molecules
    assert_one_line_error(cli("check", model, data, "--layer", "blk"), "layer 'blk'")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--irreps", "16x0q"], "not an e3nn Irreps"),
        (["--irreps", "4x1o"], "needs scalars"),
        (["--targets", "u0,nope"], "targets nope"),
        (["--arch", "mlp"], "arch must be one of"),
    ],
)
def test_train_bad_input_is_one_line_error(cli, tmp_path, args, fragment):
    out = tmp_path / "m.pt"
    r = cli("train", "mol3d", "--limit", 30, "--max-minutes", 0, *args, "-o", out)
    assert_one_line_error(r, fragment)
    assert not out.exists()
