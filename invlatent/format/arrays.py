"""Load named arrays saved by other programs: ``.npy``, ``.npz``, ``.pt`` (no pickle), ``.st``."""

from __future__ import annotations

import os
import zipfile

import numpy as np

from invlatent.errors import InvlatentError
from invlatent.format import safetensors_io as sio

MAX_INFLATION = 1 << 28  # bytes a compressed archive may add when decompressed
SUFFIXES = (".npy", ".npz", ".pt", ".pth", ".safetensors", ".st")


def load_arrays(path: str) -> dict[str, np.ndarray]:
    """All arrays in a file by name; a lone unnamed array (``.npy``, a bare tensor) is ``""``."""
    if not os.path.exists(path):
        raise InvlatentError(f"{path}: no such file")
    try:
        sio.check_regular(path)  # a FIFO would wait for its writer for ever
    except sio.SafetensorsError as e:
        raise InvlatentError(f"{path}: {e}") from None
    if os.path.getsize(path) == 0:
        raise InvlatentError(f"{path}: the file is empty")
    suffix = os.path.splitext(path)[1].lower()
    loader = {".npy": _npy, ".npz": _npz, ".pt": _torch, ".pth": _torch}.get(suffix, _safetensors)
    if suffix not in SUFFIXES:
        raise InvlatentError(f"{path}: unknown array format {suffix!r} (use {', '.join(SUFFIXES)})")
    return loader(path)


def pick(
    arrays: dict[str, np.ndarray], name: str, path: str, *, required: bool
) -> np.ndarray | None:
    """The array called ``name``, or the file's only array; None when absent and not required."""
    if name in arrays:
        return arrays[name]
    if "" in arrays:
        return arrays[""]
    if len(arrays) == 1 and required:
        return next(iter(arrays.values()))
    if required:
        raise InvlatentError(
            f"{path}: no array named {name!r}; it holds {', '.join(sorted(arrays)) or 'nothing'}"
            " (choose one with --key)"
        )
    return None


def _npy(path: str) -> dict[str, np.ndarray]:
    try:
        return {"": np.load(path, mmap_mode="r", allow_pickle=False)}  # larger than memory
    except ValueError as e:
        raise InvlatentError(f"{path}: cannot read .npy ({_first_line(e)})") from None


def _npz(path: str) -> dict[str, np.ndarray]:
    check_inflation(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (ValueError, zipfile.BadZipFile, OSError, EOFError) as e:
        raise InvlatentError(f"{path}: cannot read .npz ({_first_line(e)})") from None


def _torch(path: str) -> dict[str, np.ndarray]:
    import torch

    check_inflation(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for bad or unsafe files
        raise InvlatentError(
            f"{path}: cannot load safely with weights_only=True ({_first_line(e)})"
        ) from None
    if isinstance(obj, torch.Tensor):
        return {"": obj.detach().numpy()}
    if isinstance(obj, dict) and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return {str(k): v.detach().numpy() for k, v in obj.items()}
    raise InvlatentError(
        f"{path}: expected a tensor or a dict of tensors, got {type(obj).__name__}"
    )


def check_inflation(path: str) -> None:
    """Refuse a zip archive (``.npz``, ``.pt``) whose members would decompress to more than
    ``MAX_INFLATION`` bytes beyond the archive's own size, before anything is decompressed (a
    few MB of zeros can claim gigabytes); stored members (``.pt``'s usual) always pass."""
    try:
        with zipfile.ZipFile(path) as z:
            declared = sum(info.file_size for info in z.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return  # not a zip archive: the loader says what is wrong with it
    if declared - os.path.getsize(path) > MAX_INFLATION:
        raise InvlatentError(
            f"{path}: the archive's members decompress to {declared:,} bytes, over the limit of "
            f"{MAX_INFLATION:,} beyond its own size (save large arrays as .npy: they are mapped)"
        )


def _safetensors(path: str) -> dict[str, np.ndarray]:
    try:
        header, buf = sio.map_file(path)
    except sio.SafetensorsError as e:
        raise InvlatentError(f"{path}: {e}") from None
    return {name: np.array(sio.tensor_view(header, buf, name)) for name in header.tensors}


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]
