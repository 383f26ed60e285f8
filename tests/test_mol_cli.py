"""The molecule commands through the real CLI: train, encode (file contract), decode, interpolate."""

import importlib.util
import json

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("rdkit")

from invlatent.format import latentfile as lfm  # noqa: E402
from invlatent.format.checkpoint import load_checkpoint  # noqa: E402
from invlatent.groups import act  # noqa: E402
from invlatent.groups.action import Action  # noqa: E402
from tests.conftest import Cli, assert_one_line_error  # noqa: E402

SMILES = [
    "CC(C)O",
    "c1ccccc1",
    "[NH3+]CC(=O)[O-]",
    "OC1C2CC1O2",
    "C#CC(=O)NC",
    "CCOC=O",
    "CC1=CC=CN1",
    "OCC#N",
    "CC(=O)C(C)=O",
    "C1CC1",
]
needs_qm9 = pytest.mark.skipif(importlib.util.find_spec("qm9pack") is None, reason="no qm9pack")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny graph VAE trained for two epochs on a SMILES file, and that file."""
    d = tmp_path_factory.mktemp("mol")
    smi = d / "mols.smi"
    smi.write_text("\n".join(SMILES * 4) + "\n")
    model = d / "vae.pt"
    r = Cli()(
        "train",
        "graph-vae",
        "--data",
        smi,
        "--epochs",
        "2",
        "--hidden",
        "16",
        "--batch-size",
        "8",
        "--pair-layers",
        "2",
        "-o",
        model,
    )
    assert r.exit_code == 0, r.stderr
    assert "epoch 2/2" in r.stderr
    assert load_checkpoint(str(model))[1]["model"]["edge_layers"] == 2
    return model, smi


def _encode(cli, model, data, *args):
    r = cli("encode", model, data, *args)
    assert r.exit_code == 0, r.stderr
    return r.stdout_bytes, lfm.loads(r.stdout_bytes)


@needs_qm9
def test_encode_qm9_writes_the_file_contract(cli, trained):
    model, _ = trained
    raw, lf = _encode(cli, model, "qm9", "--limit", "40", "--permute", "random", "--seed", "3")
    assert lf.action == Action.parse("sn")
    assert lf.z.shape == (40, 9, 1) and lf.z.dtype == np.float32
    assert lf.mask.shape == (40, 9) and lf.mask.dtype == np.bool_
    assert (lf.z[~lf.mask] == 0).all()
    assert lf.targets.shape == (40, 12) and lf.targets.dtype == np.float32
    assert lf.target_names[:3] == ["mu", "alpha", "homo"]
    assert len(json.loads(lf.meta["target_units"])) == 12
    assert len(lf.ids) == 40 and np.all(np.diff(lf.ids) > 0)  # a --limit sample, in file order
    assert lf.extra["split"].dtype == np.uint8 and set(lf.extra["split"]) <= {0, 1, 2}
    assert json.loads(lf.meta["split_names"]) == ["train", "val", "test"]
    assert lf.g_kind == "perm" and (np.sort(lf.g, axis=1) == np.arange(9)).all()
    assert lf.history[-1]["command"] == "encode" and lf.history[-1]["seed"] == 3
    assert (
        _encode(cli, model, "qm9", "--limit", "40", "--permute", "random", "--seed", "3")[0] == raw
    )


@needs_qm9
def test_random_node_order_permutes_the_latents_exactly_as_recorded(cli, trained):
    model, _ = trained
    _, plain = _encode(cli, model, "qm9", "--limit", "40")
    _, perm = _encode(cli, model, "qm9", "--limit", "40", "--permute", "random", "--seed", "5")
    moved, mask = act("sn", np.asarray(plain.z), np.asarray(perm.g), np.asarray(plain.mask))
    assert (mask == perm.mask).all()
    np.testing.assert_allclose(moved, perm.z, atol=1e-5)
    assert not np.allclose(plain.z, perm.z, atol=1e-3)


def test_encode_a_smiles_file_and_refuse_image_options(cli, trained, tmp_path):
    model, smi = trained
    _, lf = _encode(cli, model, smi, "--limit", "10")
    assert len(lf) == 10 and lf.targets is None
    for opt in (["--rotate", "random"], ["--copies", "2"], ["--permute", "sideways"]):
        assert_one_line_error(cli("encode", model, smi, *opt), opt[0])


def test_encode_a_csv_with_a_named_smiles_column_and_property_targets(cli, trained, tmp_path):
    model, smi = trained
    csv = tmp_path / "mols.csv"
    rows = [f"{i},{s},{0.5 * i},label{i}" for i, s in enumerate(SMILES)]
    csv.write_text("idx,structure,logp,name\n" + "\n".join(rows) + "\n")
    _, by_csv = _encode(cli, model, csv, "--smiles-col", "structure")
    (tmp_path / "ten.smi").write_text("\n".join(SMILES) + "\n")
    _, by_smi = _encode(cli, model, tmp_path / "ten.smi")
    np.testing.assert_array_equal(by_csv.z, by_smi.z)
    assert by_csv.target_names == ["idx", "logp"]
    np.testing.assert_allclose(by_csv.targets[:, 1], 0.5 * np.arange(len(SMILES)))
    assert by_csv.history[-1]["options"]["smiles_col"] == "structure"
    assert_one_line_error(cli("encode", model, csv), "no SMILES column")
    assert_one_line_error(cli("encode", model, csv, "--smiles-col", "nope"), "nope")
    assert_one_line_error(cli("encode", model, smi, "--smiles-col", "structure"), "csv")


def _sorted_file(lf):
    """What `project --method sort` writes: real nodes sorted by value first, then padding."""
    z, mask = np.asarray(lf.z), np.asarray(lf.mask)
    perm = np.argsort(np.where(mask, z[:, :, 0], np.inf), axis=1, kind="stable")
    zs = (
        np.take_along_axis(z, perm[:, :, None], axis=1)
        * np.take_along_axis(mask, perm, axis=1)[..., None]
    )
    step = lfm.make_step("project", {"method": "sort"})
    return lf.with_step(
        step,
        z=zs.reshape(len(z), -1),
        action=Action.parse("trivial"),
        mask=None,
        extra={**lf.extra, "perm": perm, "n_nodes": mask.sum(1)},
    )


@pytest.mark.parametrize("mode", ["argmax", "valence", "search"])
def test_decoding_sorted_latents_gives_the_same_molecules_as_raw(cli, trained, tmp_path, mode):
    model, smi = trained
    raw, lf = _encode(cli, model, smi, "--permute", "random", "--layer", "sample")
    (tmp_path / "z.st").write_bytes(raw)
    lfm.write(_sorted_file(lf), str(tmp_path / "zs.st"))
    a = cli("decode", model, tmp_path / "z.st", "--mode", mode)
    b = cli("decode", model, tmp_path / "zs.st", "--mode", mode)
    assert a.exit_code == 0 and b.exit_code == 0, (a.stderr, b.stderr)
    assert a.stdout_bytes == b.stdout_bytes
    assert len(a.stdout.splitlines()) == len(lf)
    assert "decoded 40 latents" in b.stderr


def test_decode_prior_samples_and_report_validity(cli, trained):
    model, _ = trained
    r = cli("decode", model, "--prior", "25", "--seed", "1", "--json")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 25 and [line.split("\t")[1] for line in lines] == [
        str(i) for i in range(25)
    ]
    summary = json.loads(r.stderr)
    assert summary["valid"] == sum(not line.startswith("INVALID") for line in lines)
    assert (summary["mode"], summary["candidates"]) == ("search", 32)
    assert r.stdout_bytes == cli("decode", model, "--prior", "25", "--seed", "1").stdout_bytes


def test_decode_refuses_bad_input(cli, trained, tmp_path):
    model, smi = trained
    assert_one_line_error(cli("decode", model), "--prior")
    assert_one_line_error(cli("decode", model, "--prior", "3", "--candidates", "0"), "--candidates")
    assert_one_line_error(cli("decode", model, "--prior", "3", "--mode", "best"), "search")
    lf = lfm.LatentFile(z=np.zeros((3, 9, 2), np.float32), action=Action.parse("sn"))
    lfm.write(lf, str(tmp_path / "wide.st"))
    assert_one_line_error(cli("decode", model, tmp_path / "wide.st"), "[9, 2]")
    lf = lfm.LatentFile(z=np.zeros((3, 2, 4), np.float32), action=Action.parse("c4"))
    lfm.write(lf, str(tmp_path / "c4.st"))
    assert_one_line_error(cli("decode", model, tmp_path / "c4.st"), "project --method sort")
    assert_one_line_error(
        cli("decode", tmp_path / "c4.st", "--prior", "3"), "not an invlatent model"
    )


def test_interpolate_reports_both_spaces_and_draws(cli, trained, tmp_path):
    model, smi = trained
    raw, _ = _encode(cli, model, smi, "--permute", "random")
    (tmp_path / "z.st").write_bytes(raw)
    png = tmp_path / "paths.png"
    r = cli(
        "interpolate",
        model,
        tmp_path / "z.st",
        "--pairs",
        "4",
        "--steps",
        "5",
        "--json",
        "-o",
        png,
        "--draw",
        "2",
    )
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    assert set(report["spaces"]) == {"raw", "sorted"} and len(report["pair_ids"]) == 4
    for m in report["spaces"].values():
        assert 0 <= m["validity"] <= 1 and m["edits_per_step"] >= 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = cli("interpolate", model, tmp_path / "z.st", "--pairs", "4", "--steps", "5", "--json")
    assert again.stdout == r.stdout
    assert_one_line_error(cli("interpolate", model, tmp_path / "z.st", "--space", "up"), "--space")


def test_encode_counts_and_reports_rejected_molecules(cli, trained, tmp_path):
    model, _ = trained
    smi = tmp_path / "some_bad.smi"
    smi.write_text("CCO\nC1CC(\nCCCCCCCCCCC\nc1ccccc1\n")
    r = cli("encode", model, smi)
    assert r.exit_code == 0, r.stderr
    lf = lfm.loads(r.stdout_bytes)
    assert lf.ids.tolist() == [0, 3]
    assert json.loads(lf.meta["rejected"]) == {"more than 9 heavy atoms": 1, "unparsable SMILES": 1}
    assert "skipped" in r.stderr and "unparsable SMILES" in r.stderr


def test_train_refuses_bad_options_before_any_work(cli, tmp_path):
    assert_one_line_error(
        cli("train", "graph-vae", "--epochs", "0", "-o", tmp_path / "m.pt"), "--epochs"
    )
    assert_one_line_error(
        cli("train", "graph-vae", "-o", tmp_path / "no" / "m.pt"), "does not exist"
    )
    for option, value in (("--pair-layers", "-1"), ("--ema", "1"), ("--ema", "-0.5")):
        assert_one_line_error(
            cli("train", "graph-vae", option, value, "-o", tmp_path / "m.pt"), option
        )
    assert_one_line_error(
        cli("train", "graph-vae", "--data", tmp_path / "none.smi", "-o", tmp_path / "m.pt"),
        "no such file",
    )
    assert not (tmp_path / "m.pt").exists()
