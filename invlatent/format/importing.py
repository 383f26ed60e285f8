"""Wrap arrays from other programs into a validated latent file with a declared group action."""

from __future__ import annotations

import os

import numpy as np

from invlatent.errors import InvlatentError
from invlatent.format.arrays import load_arrays, pick
from invlatent.format.latentfile import LatentFile, make_step, sha256_of_file, validate
from invlatent.groups.action import Action

F32_MAX = float(np.finfo(np.float32).max)
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
    paths = side_files or {}
    lf = LatentFile(
        z=z,
        action=action,
        mask=_as_mask(side["mask"], array_path),
        labels=_as_int(side["labels"], "labels", paths.get("labels") or array_path),
        targets=_as_targets(side["targets"], array_path),
        target_names=list(target_names or []),
        g=side["g"],
        g_kind=g_kind,
        ids=_as_int(side["ids"], "ids", paths.get("ids") or array_path),
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
    """``z`` as float32; finite values beyond float32's range are refused, not made Inf."""
    if z.dtype.kind != "f":
        raise InvlatentError(f"{path}: z must be floating point, got {z.dtype}")
    if z.dtype.itemsize > 4 and z.size:
        big = np.abs(z[np.isfinite(z)], dtype=np.float64).max(initial=0.0)
        if big > F32_MAX:
            raise InvlatentError(
                f"{path}: z holds values beyond float32's range (|z| up to {big:.3g}, "
                f"float32 holds {F32_MAX:.3g}): rescale it first"
            )
    return np.ascontiguousarray(z, dtype=np.float32)


def _as_int(arr: np.ndarray | None, name: str, path: str) -> np.ndarray | None:
    """``arr`` as int64; values it cannot hold exactly (non-integral, NaN, beyond ±2^63) are
    refused rather than wrapped or rounded."""
    if arr is None:
        return None
    if arr.dtype.kind not in "iuf" and arr.dtype != np.bool_:
        raise InvlatentError(f"{path}: {name} must be integers, got {arr.dtype}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr) & (arr == np.round(arr))):
        raise InvlatentError(
            f"{path}: {name} must be integers, got non-integral {arr.dtype} values"
        )
    if arr.size and arr.dtype.kind in "uf" and (arr.max() >= 2**63 or arr.min() < -(2**63)):
        raise InvlatentError(
            f"{path}: {name} holds values int64 cannot hold (from {arr.min():.6g} to "
            f"{arr.max():.6g})"
        )
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
