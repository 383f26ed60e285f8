"""``--limit`` on every molecule source (qm9, .smi, .csv for the graph VAE; qm9 and .xyz for 3-D
models) takes a sample stratified by the fixed split, the same every run, that grows as a
superset and keeps input order; without it every row comes back in order."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("rdkit")

from invlatent.format import latentfile  # noqa: E402
from invlatent.sampling import class_counts, stratified_rows  # noqa: E402
from tests.conftest import Cli, assert_one_line_error  # noqa: E402

needs_qm9 = pytest.mark.skipif(importlib.util.find_spec("qm9pack") is None, reason="no qm9pack")
SMILES = [
    "C", "N", "O", "CC", "CO", "CN", "C#N", "C=O", "CCO", "CCN", "CC#N", "CC=O", "COC", "CNC",
    "C1CC1", "C1CO1", "C1CN1", "CCCO", "CC(C)O", "OCC#N", "CC(=O)O", "CC(=O)N", "C#CC", "C=CC",
    "CCCC", "CC(C)C", "OCCO", "NCCO", "c1ccccc1", "c1ccncc1", "c1ccoc1", "c1cc[nH]c1", "CC(=O)C",
    "COC=O", "CCOC", "NC=O", "OC=O", "C1CCC1", "C1CCO1", "CCC#N",
]  # fmt: skip


def _run(model, data, *args) -> tuple[bytes, latentfile.LatentFile]:
    res = Cli()("encode", model, data, *args)
    assert res.exit_code == 0, res.stderr
    return res.stdout_bytes, latentfile.loads(res.stdout_bytes)


def _assert_limit_sample(model, data, split: np.ndarray, limit: int) -> latentfile.LatentFile:
    """``--limit`` (and twice it): same bytes twice, ids ascending, not the first rows, each
    split within one row of its share, the split of every row kept, a superset for more."""
    raw, lf = _run(model, data, "--limit", limit)
    assert _run(model, data, "--limit", limit)[0] == raw
    assert len(lf.ids) == limit and np.all(np.diff(lf.ids) > 0)
    assert not np.array_equal(lf.ids, np.arange(limit))
    share = limit * np.bincount(split, minlength=3) / len(split)
    assert np.all(np.abs(np.bincount(lf.extra["split"], minlength=3) - share) < 1)
    assert np.array_equal(lf.extra["split"], split[lf.ids])
    _, more = _run(model, data, "--limit", 2 * limit)
    assert set(lf.ids.tolist()) <= set(more.ids.tolist())
    return lf


def test_class_counts_grow_with_the_limit_and_stay_within_one_of_the_share():
    for counts in ([60, 30, 10], [7, 5, 3], [104665, 13083, 13083], [1, 9, 2, 40, 17]):
        counts = np.array(counts)
        n = min(int(counts.sum()), 400)
        got = np.array([class_counts(counts, k) for k in range(n + 1)])
        assert np.all(np.diff(got, axis=0) >= 0)  # largest remainders at once fail for [60, 30, 10]
        share = np.arange(n + 1)[:, None] * counts / counts.sum()
        assert np.all(np.abs(got - share) < 1) and np.array_equal(got.sum(1), np.arange(n + 1))
    y = np.random.default_rng(4).permutation(np.repeat([0, 1, 2], [60, 30, 10]))
    rows = [set(stratified_rows(y, k).tolist()) for k in range(101)]
    assert all(a <= b for a, b in zip(rows[:-1], rows[1:], strict=True))


@pytest.fixture(scope="module")
def vae(tmp_path_factory):
    d = tmp_path_factory.mktemp("vae")
    (d / "train.smi").write_text("\n".join(SMILES) + "\n")
    res = Cli()("train", "graph-vae", "--data", d / "train.smi", "--epochs", "1", "--hidden",
                "8", "--batch-size", "8", "-o", d / "vae.pt")  # fmt: skip
    assert res.exit_code == 0, res.stderr
    return d / "vae.pt"


@pytest.mark.parametrize("kind", ["smi", "csv"])
def test_smiles_files_limit_is_a_stratified_sample_in_input_order(vae, tmp_path, kind):
    y = np.arange(len(SMILES), dtype=np.float32) * 1.5
    path = tmp_path / f"m.{kind}"
    lines = [f"{s},{v}" for s, v in zip(SMILES, y, strict=True)]
    path.write_text("\n".join(["smiles,y", *lines] if kind == "csv" else SMILES) + "\n")
    _, full = _run(vae, path)
    assert np.array_equal(full.ids, np.arange(len(SMILES)))
    lf = _assert_limit_sample(vae, path, full.extra["split"], 10)
    assert np.allclose(lf.z, full.z[lf.ids], atol=1e-5)  # each row is its source molecule
    if kind == "csv":
        assert np.array_equal(lf.targets[:, 0], y[lf.ids])


def test_a_limit_below_one_is_a_one_line_error(vae, tmp_path):
    (tmp_path / "m.smi").write_text("CCO\nCC\n")
    for data in (tmp_path / "m.smi", "qm9"):
        assert_one_line_error(Cli()("encode", vae, data, "--limit", "0"), "--limit must be at")


@needs_qm9
def test_qm9_graph_limit_is_a_stratified_sample_in_file_order(vae):
    from invlatent.pipelines.qm9 import QM9_SIZE, load_qm9, split_codes

    lf = _assert_limit_sample(vae, "qm9", split_codes(np.arange(QM9_SIZE), QM9_SIZE), 40)
    assert np.array_equal(lf.targets, load_qm9().targets[lf.ids])


@pytest.fixture(scope="module")
def mol3d(tmp_path_factory):
    pytest.importorskip("e3nn")
    if importlib.util.find_spec("qm9pack") is None:
        pytest.skip("no qm9pack")
    path = tmp_path_factory.mktemp("mol3d") / "m.pt"
    res = Cli()("train", "mol3d", "--data", "qm9", "--limit", 40, "--epochs", 1, "--irreps",
                "4x0e+1x1o", "--batch-size", 16, "--max-minutes", 0, "--threads", 1, "-o", path)  # fmt: skip
    assert res.exit_code == 0, res.stderr
    return path


def test_mol3d_qm9_limit_is_a_stratified_sample_in_file_order(mol3d):
    from invlatent.pipelines.qm9 import QM9_SIZE, load_qm9, split_codes

    lf = _assert_limit_sample(mol3d, "qm9", split_codes(np.arange(QM9_SIZE), QM9_SIZE), 12)
    assert np.array_equal(lf.targets, load_qm9().targets[lf.ids])


def test_xyz_limit_is_a_stratified_sample_in_file_order(mol3d, tmp_path):
    from invlatent.pipelines.mol3d.data import load_geometries
    from invlatent.pipelines.mol3d.geometries import SYMBOLS

    geo = load_geometries("qm9", limit=30)
    lines = []
    for pos, species, mask in zip(geo.pos, geo.species, geo.mask, strict=True):
        lines += [str(mask.sum()), "frame"]
        lines += [f"{SYMBOLS[z]} {x:.6f} {y:.6f} {w:.6f}" for z, (x, y, w) in
                  zip(species[mask], pos[mask], strict=True)]  # fmt: skip
    path = tmp_path / "q.xyz"
    path.write_text("\n".join(lines) + "\n")
    _, full = _run(mol3d, path)
    assert np.array_equal(full.ids, np.arange(30))
    assert np.array_equal(full.mask.sum(1), geo.mask.sum(1))  # frame i is row i
    lf = _assert_limit_sample(mol3d, path, full.extra["split"], 10)
    assert np.allclose(lf.z, full.z[lf.ids], atol=1e-4)


def _assert_split_then_limit(model, data, split: np.ndarray) -> None:
    """``--split test --limit N``: N test molecules (the split first, as for images), in input
    order, a superset for a larger N, the same rows as taking the test split and sampling it."""
    from invlatent.sampling import stratified_rows

    test = np.flatnonzero(split == 2)
    _, lf = _run(model, data, "--split", "test", "--limit", 8)
    assert np.array_equal(lf.ids, test[stratified_rows(split[test], 8)])
    assert np.all(lf.extra["split"] == 2) and np.all(np.diff(lf.ids) > 0)
    _, more = _run(model, data, "--split", "test", "--limit", 16)
    assert len(more.ids) == 16 and set(lf.ids.tolist()) <= set(more.ids.tolist())
    res = Cli()("encode", model, data, "--split", "tset", "--limit", 8)
    assert_one_line_error(res, "--split must be all, train, val or test")


@needs_qm9
def test_qm9_graph_split_comes_before_limit(vae):
    from invlatent.pipelines.qm9 import QM9_SIZE, split_codes

    _assert_split_then_limit(vae, "qm9", split_codes(np.arange(QM9_SIZE), QM9_SIZE))


def test_mol3d_qm9_split_comes_before_limit(mol3d):
    from invlatent.pipelines.qm9 import QM9_SIZE, split_codes

    _assert_split_then_limit(mol3d, "qm9", split_codes(np.arange(QM9_SIZE), QM9_SIZE))


def test_an_empty_split_is_a_one_line_error(vae, mol3d, tmp_path):
    """Three molecules all fall in train (80/10/10): `--split test` names the empty split."""
    from invlatent.pipelines.mol3d.data import load_geometries
    from invlatent.pipelines.mol3d.geometries import SYMBOLS
    from invlatent.pipelines.qm9 import split_codes

    assert not (split_codes(np.arange(3), 3) == 2).any()
    (tmp_path / "m.smi").write_text("CCO\nCC\nCN\n")
    res = Cli()("encode", vae, tmp_path / "m.smi", "--split", "test")
    assert_one_line_error(res, "the test split is empty")
    geo, lines = load_geometries("qm9", limit=3), []
    for species, pos, mask in zip(geo.species, geo.pos, geo.mask, strict=True):
        lines += [str(mask.sum()), ""]
        lines += [f"{SYMBOLS[z]} {x} {y} {w}" for z, (x, y, w) in zip(species[mask], pos[mask], strict=True)]  # fmt: skip
    (tmp_path / "q.xyz").write_text("\n".join(lines) + "\n")
    res = Cli()("encode", mol3d, tmp_path / "q.xyz", "--split", "test")
    assert_one_line_error(res, "no molecule in the test split could be read")
