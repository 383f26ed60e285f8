"""Wrap arrays from other programs into a validated latent file with a declared group action."""

from __future__ import annotations

import os

import numpy as np

from invlatent.errors import InvlatentError
from invlatent.format.arrays import load_arrays, pick
from invlatent.format.latentfile import LatentFile, make_step, sha256_of_file, validate
from invlatent.groups.action import Action

SIDE = ("labels", "targets", "mask", "g", "g_perm", "ids")


def import_arrays(
    array_path: str,
    group: str,
    *,
    key: str = "z",
    side_files: dict[str, str | None] | None = None,
    target_names: list[str] | None = None,
    g_kind: str | None = None,
    allow_nonfinite: bool = False,
) -> LatentFile:
    """Build a latent file from ``array_path`` (and optional side files) under action ``group``."""
    action = Action.parse(group)
    arrays = load_arrays(array_path)
    z = _as_float32(pick(arrays, key, array_path, required=True), array_path)
    side = {name: arrays.get(name) for name in SIDE}
    inputs = [(os.path.basename(array_path), sha256_of_file(array_path))]
    for name, path in (side_files or {}).items():
        if path:
            side[name] = pick(load_arrays(path), name, path, required=True)
            inputs.append((os.path.basename(path), sha256_of_file(path)))
    lf = LatentFile(
        z=z,
        action=action,
        mask=_as_mask(side["mask"], array_path),
        labels=_as_int(side["labels"], "labels", array_path),
        targets=_as_targets(side["targets"], array_path),
        target_names=list(target_names or []),
        g=side["g"],
        g_kind=g_kind,
        ids=_as_int(side["ids"], "ids", array_path),
        extra=_extra(side, array_path),
    )
    options = {"group": str(action), "key": key, "g_kind": g_kind, **(side_files or {})}
    lf.history.append(make_step("import", options, inputs=inputs))
    validate(lf, array_path, allow_nonfinite=allow_nonfinite)
    return lf


def _extra(side: dict, path: str) -> dict[str, np.ndarray]:
    """Side tensors kept under their own names: the node permutations of sn*o3 elements."""
    perm = _as_int(side["g_perm"], "g_perm", path)
    return {} if perm is None else {"g_perm": perm}


def _as_float32(z: np.ndarray, path: str) -> np.ndarray:
    if z.dtype.kind != "f":
        raise InvlatentError(f"{path}: z must be floating point, got {z.dtype}")
    return np.ascontiguousarray(z, dtype=np.float32)


def _as_int(arr: np.ndarray | None, name: str, path: str) -> np.ndarray | None:
    if arr is None:
        return None
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr) & (arr == np.round(arr))):
        raise InvlatentError(
            f"{path}: {name} must be integers, got non-integral {arr.dtype} values"
        )
    if arr.dtype.kind not in "iuf" and arr.dtype != np.bool_:
        raise InvlatentError(f"{path}: {name} must be integers, got {arr.dtype}")
    return arr.astype(np.int64)


def _as_targets(arr: np.ndarray | None, path: str) -> np.ndarray | None:
    if arr is None:
        return None
    if arr.dtype.kind not in "iuf":
        raise InvlatentError(f"{path}: targets must be numbers, got {arr.dtype}")
    return (arr[:, None] if arr.ndim == 1 else arr).astype(np.float32)


def _as_mask(arr: np.ndarray | None, path: str) -> np.ndarray | None:
    if arr is None:
        return None
    if arr.dtype != np.bool_ and not np.isin(arr, (0, 1)).all():
        raise InvlatentError(f"{path}: mask must hold only 0/1 or booleans")
    return arr.astype(np.bool_)
