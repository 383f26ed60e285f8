"""Encode 3-D molecules with a trained network into a latent file, in random poses if asked.

Honest protocol: ``rotate="random"`` turns each molecule by a Haar-random rotation (``"o3"``:
rotations and inversions), ``permute="random"`` lists its atoms in a random order; the element
(R, P) goes into ``g`` (R, ``[B, 3, 3]``) and ``g_perm`` (P, ``[B, n]``: new atom i is old atom
P[i]), so invariance can be checked on the file. ``copies`` encodes each molecule several times
in independent poses (rows molecule-major, sharing an id): real orbits for pictures.
"""

from __future__ import annotations

import json
import os

import numpy as np

from invlatent import ranks
from invlatent.errors import InvlatentError, check_at_least
from invlatent.format.latentfile import LatentFile, make_step, sha256_of_file
from invlatent.groups.action import Action
from invlatent.pipelines.mol3d.data import load_geometries
from invlatent.pipelines.mol3d.defaults import LAYERS
from invlatent.pipelines.mol3d.geometries import Geometries
from invlatent.pipelines.mol3d.poses import posed, random_permutations, random_rotations
from invlatent.reporting import say

ROTATE = {"none": None, "random": False, "so3": False, "o3": True}


def encode_checkpoint(
    model: str,
    data: str,
    *,
    rotate: str = "none",
    copies: int = 1,
    permute: str = "none",
    layer: str | None = None,
    split: str = "all",
    limit: int | None = None,
    batch_size: int = 256,
    seed: int = 0,
    device: str = "cpu",
    labels: str | None = None,
) -> LatentFile:
    """Latents of ``layer`` (nodes, graph or invariant) with targets, ids, split, g and g_perm
    (and the integer property ``labels`` as class labels)."""
    layer = layer or "nodes"
    _check_options(rotate, copies, permute, layer, batch_size, device)
    from invlatent.pipelines.mol3d.models import check_species, load_model, run

    net, config = load_model(model)
    geo = load_geometries(data, limit, split, labels)
    if geo.rejected:
        say(f"invlatent: {data}: unreadable rows {dict(geo.rejected)}")
    check_species(geo, config["model"]["species"], data)
    moved, rot, perm = _posed_share(geo, copies, rotate, permute, seed)
    z = run(net, moved.pos, moved.species, moved.mask, [layer], batch_size)[layer]
    options = dict(
        rotate=rotate,
        copies=copies,
        permute=permute,
        layer=layer,
        split=split,
        limit=limit,
        data=data,
        **({"labels": labels} if labels else {}),
    )
    return _latent_file(z, moved, net.layer_action(layer), rot, perm, model, options, seed)


def encode_foreign(
    model: str,
    data: str,
    *,
    group: str | None,
    onnx: bool = False,
    rotate: str = "none",
    copies: int = 1,
    permute: str = "none",
    split: str = "all",
    limit: int | None = None,
    batch_size: int = 256,
    seed: int = 0,
    device: str = "cpu",
    labels: str | None = None,
) -> LatentFile:
    """Latents of a user's 3-D encoder (:mod:`invlatent.pipelines.mol3d.foreign`) with the
    declared action ``group``, in the poses, with the ids, targets and ``g`` of the built-in
    model's files."""
    from invlatent.pipelines.mol3d.foreign import (
        load_structure_encoder,
        run_structures,
        structure_action,
    )

    _check_options(rotate, copies, permute, "nodes", batch_size, device)
    action = structure_action(group)
    fn = load_structure_encoder(model, onnx)
    geo = load_geometries(data, limit, split, labels)
    moved, rot, perm = _posed_share(geo, copies, rotate, permute, seed)
    z = run_structures(fn, moved, action, model)
    say(f"encoded {len(moved)} structures of {data} into z {list(z.shape)} ({action})")
    options = dict(rotate=rotate, copies=copies, permute=permute, split=split, limit=limit)
    options.update(data=data, group=str(action), **{"onnx" if onnx else "torchscript": True})
    if labels:
        options["labels"] = labels
    return _latent_file(z, moved, str(action), rot, perm, model, options, seed)


def _check_options(rotate, copies, permute, layer, batch_size, device) -> None:
    """Refuse options that have no meaning for 3-D molecules."""
    if rotate not in ROTATE:
        raise InvlatentError(
            f"rotate for 3-D molecules must be none, random (rotations) or o3 (with "
            f"inversions), got {rotate!r}"
        )
    if permute not in ("none", "random"):
        raise InvlatentError(f"permute must be none or random, got {permute!r}")
    if layer not in LAYERS:
        raise InvlatentError(f"layer for a 3-D model must be {', '.join(LAYERS)}, got {layer!r}")
    check_at_least(copies=(copies, 1), batch_size=(batch_size, 1))
    if device != "cpu":
        raise InvlatentError(f"device {device}: 3-D models encode on cpu only")


def _posed_share(geo: Geometries, copies: int, rotate: str, permute: str, seed: int):
    """This rank's rows (all of them in one process) of ``copies`` copies of every molecule,
    moved into their seeded poses, with the rotations and permutations applied to them."""
    geo = geo.take(np.repeat(np.arange(len(geo)), copies))
    rot, perm = _poses(geo, rotate, permute, seed)
    share = ranks.from_env().share(len(geo))  # under torchrun: this rank's rows
    rot, perm = (None if a is None else a[share] for a in (rot, perm))
    return posed(geo.take(share), rot, perm), rot, perm


def _poses(geo: Geometries, rotate: str, permute: str, seed: int):
    """Rotations (B, 3, 3) or None, permutations (B, n) or None, from one seeded generator."""
    rng = np.random.default_rng(seed)
    improper = ROTATE[rotate]
    rot = None if improper is None else random_rotations(rng, len(geo), improper)
    perm = random_permutations(rng, geo.mask) if permute == "random" else None
    return rot, perm


def _latent_file(z, geo: Geometries, action: str, rot, perm, model, options, seed) -> LatentFile:
    action = Action.parse(action)
    g, g_kind, extra = _elements(action, geo, rot, perm)
    meta = {
        "split_names": json.dumps(["train", "val", "test"]),
        "unreadable": json.dumps(dict(geo.rejected), sort_keys=True),
        "pose": f"rotate {options['rotate']}, atom order {options['permute']}",
    }
    if geo.targets is not None:
        meta["target_units"] = json.dumps(list(geo.target_units))
    step = make_step(
        "encode", options, inputs=[(os.path.basename(model), sha256_of_file(model))], seed=seed
    )
    return LatentFile(
        z=np.ascontiguousarray(z, dtype=np.float32),
        action=action,
        mask=geo.mask.copy() if action.has_nodes else None,
        targets=None if geo.targets is None else np.ascontiguousarray(geo.targets),
        target_names=list(geo.target_names),
        labels=None if geo.labels is None else geo.labels.astype(np.int64),
        g=g,
        g_kind=g_kind,
        ids=geo.ids.astype(np.int64),
        extra={"split": geo.split.astype(np.uint8), **extra},
        history=[step],
        meta=meta,
    )


def _elements(action: Action, geo: Geometries, rot, perm) -> tuple:
    """``g``, ``g_kind`` and extra tensors recording the applied (R, P)."""
    if rot is None and perm is None:
        return None, None, {}
    b, n = geo.mask.shape
    if action == Action("sn"):  # the plain baseline's node latents: only atom order is built in
        extra = {} if rot is None else {"rotation": rot.astype(np.float64)}
        p = np.broadcast_to(np.arange(n), (b, n)) if perm is None else perm
        return np.ascontiguousarray(p, dtype=np.int64), "perm", extra
    r = np.broadcast_to(np.eye(3), (b, 3, 3)) if rot is None else rot
    g = np.ascontiguousarray(r, dtype=np.float64)
    if perm is None:
        return g, "rotation", {}
    return g, "rotation+perm", {"g_perm": perm.astype(np.int64)}
