"""Image data loaders on generated fixtures (folders, .npz, IDX) and the bundled sets."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from invlatent.errors import InvlatentError
from invlatent.pipelines.images.data import load_data, stratified_split


def _write_idx(path, arr: np.ndarray, compress=False) -> None:
    head = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    data = head + arr.astype(np.uint8).tobytes()
    (gzip.open if compress else open)(path, "wb").write(data)


def test_mnist5k_has_a_fixed_stratified_4000_1000_split():
    d = load_data("mnist")
    assert d.x.shape == (5000, 1, 28, 28) and d.x.dtype == np.float32
    assert 0.0 <= d.x.min() and d.x.max() <= 1.0
    assert (d.split == 0).sum() == 4000 and (d.split == 2).sum() == 1000
    for c in range(10):
        assert ((d.labels == c) & (d.split == 2)).sum() == 100
    assert np.array_equal(d.labels, np.repeat(np.arange(10), 500))  # the file's order, kept
    assert np.array_equal(d.ids, np.arange(5000))
    again = load_data("mnist")
    assert np.array_equal(again.ids, d.ids) and np.array_equal(again.split, d.split)


def test_digits_upsampled_keeps_labels_and_range():
    small, big = load_data("digits"), load_data("digits:16")
    assert small.x.shape[1:] == (1, 8, 8) and big.x.shape[1:] == (1, 16, 16)
    assert np.array_equal(small.labels, big.labels)
    assert big.x.max() <= 1.0 + 1e-6
    with pytest.raises(InvlatentError, match="even number"):
        load_data("digits:7")


def test_digits_are_scikit_learns_without_importing_it():
    """The digits come from scikit-learn's own file, read directly (importing scikit-learn costs
    2 s of start-up); checked in a fresh process, where no other test has imported it."""
    import subprocess
    import sys

    probe = (
        "import sys; from invlatent.pipelines.images.data import load_data; "
        "load_data('digits'); print('sklearn' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr
    from sklearn.datasets import load_digits

    ref, ours = load_digits(), load_data("digits")
    np.testing.assert_array_equal(ours.x[:, 0] * 16, ref.images)
    np.testing.assert_array_equal(ours.labels, ref.target)


def test_stratified_split_takes_the_fraction_of_every_class():
    y = np.repeat(np.arange(4), [10, 20, 30, 40])
    split = stratified_split(y, 0.2, 3)
    assert [int((split[y == c] == 2).sum()) for c in range(4)] == [2, 4, 6, 8]
    assert not np.array_equal(split, stratified_split(y, 0.2, 4))


def test_image_folder_with_class_subfolders(tmp_path, rng):
    from PIL import Image

    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        for i in range(5):
            Image.fromarray(rng.integers(0, 256, (6, 6), dtype=np.uint8)).save(
                tmp_path / cls / f"{i}.png"
            )
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    d = load_data(str(tmp_path))
    assert d.x.shape == (10, 1, 6, 6) and d.class_names == ["cat", "dog"]
    assert sorted(np.bincount(d.labels)) == [5, 5]
    assert (d.split == 2).sum() == 2  # one test image per class


def test_image_folder_with_train_and_test(tmp_path, rng):
    from PIL import Image

    for part, n in (("train", 3), ("test", 2)):
        for cls in ("a", "b"):
            (tmp_path / part / cls).mkdir(parents=True)
            for i in range(n):
                arr = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
                Image.fromarray(arr).save(tmp_path / part / cls / f"{i}.png")
    d = load_data(str(tmp_path))
    assert d.x.shape == (10, 3, 4, 4)
    assert (d.split == 2).sum() == 4 and (d.split == 0).sum() == 6


def test_image_folder_with_mixed_sizes_is_refused(tmp_path):
    from PIL import Image

    (tmp_path / "a").mkdir()
    Image.new("L", (4, 4)).save(tmp_path / "a" / "1.png")
    Image.new("L", (5, 4)).save(tmp_path / "a" / "2.png")
    with pytest.raises(InvlatentError, match="differ in size"):
        load_data(str(tmp_path))


def test_npz_layouts_and_given_split(tmp_path, rng):
    x = rng.integers(0, 256, (12, 6, 6, 3), dtype=np.uint8)
    y = np.arange(12) % 3
    split = np.array([0] * 9 + [2] * 3, np.uint8)
    np.savez(tmp_path / "d.npz", x=x, y=y, split=split)
    d = load_data(str(tmp_path / "d.npz"))
    assert d.x.shape == (12, 3, 6, 6)
    row = int(np.flatnonzero(d.ids == 4)[0])
    assert np.allclose(d.x[row], x[4].transpose(2, 0, 1) / 255.0)
    assert d.labels[row] == 1 and np.array_equal(np.sort(d.ids[d.split == 2]), [9, 10, 11])


def test_npz_without_labels_is_refused(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((3, 4, 4)))
    with pytest.raises(InvlatentError, match="missing: y"):
        load_data(str(tmp_path / "d.npz"))


@pytest.mark.parametrize("compress", [False, True])
def test_idx_files_in_a_folder_keep_the_test_split(tmp_path, rng, compress):
    ext = ".gz" if compress else ""
    tr, te = rng.integers(0, 256, (8, 4, 4)), rng.integers(0, 256, (3, 4, 4))
    _write_idx(tmp_path / f"train-images-idx3-ubyte{ext}", tr, compress)
    _write_idx(tmp_path / f"train-labels-idx1-ubyte{ext}", np.arange(8) % 2, compress)
    _write_idx(tmp_path / f"t10k-images-idx3-ubyte{ext}", te, compress)
    _write_idx(tmp_path / f"t10k-labels-idx1-ubyte{ext}", np.arange(3) % 2, compress)
    d = load_data(str(tmp_path))
    assert d.x.shape == (11, 1, 4, 4)
    assert np.array_equal(np.sort(d.ids[d.split == 2]), [8, 9, 10])
    row = int(np.flatnonzero(d.ids == 9)[0])
    assert np.allclose(d.x[row, 0] * 255, te[1])
    single = load_data(str(tmp_path / f"train-images-idx3-ubyte{ext}"))
    assert len(single.labels) == 8


def test_idx_with_wrong_magic_or_missing_labels_is_refused(tmp_path):
    (tmp_path / "x-images-idx3-ubyte").write_bytes(b"\x00\x00\x09\x03" + bytes(12))
    (tmp_path / "x-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01" + bytes(4))
    with pytest.raises(InvlatentError, match="not an IDX file"):
        load_data(str(tmp_path / "x-images-idx3-ubyte"))
    _write_idx(tmp_path / "y-images-idx3-ubyte", np.zeros((2, 3, 3)))
    with pytest.raises(InvlatentError, match="no labels file"):
        load_data(str(tmp_path / "y-images-idx3-ubyte"))


def test_unknown_source_is_refused(tmp_path):
    with pytest.raises(InvlatentError, match="no such file"):
        load_data(str(tmp_path / "missing"))
    (tmp_path / "x.csv").write_text("1,2")
    with pytest.raises(InvlatentError, match="unknown image data"):
        load_data(str(tmp_path / "x.csv"))
