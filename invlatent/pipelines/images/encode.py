"""Encoding images with a trained (or a foreign TorchScript / torch.export / ONNX) encoder,
optionally lifted to a finite group (``--lift cN|dN``, see
:mod:`invlatent.pipelines.images.lift`)."""

from __future__ import annotations

import json
import time

import numpy as np
import torch

from invlatent import ranks
from invlatent.errors import InvlatentError, check_at_least
from invlatent.format.latentfile import LatentFile, make_step, sha256_of_file
from invlatent.groups.action import Action
from invlatent.groups.pixels import rotate_images
from invlatent.pipelines.foreign import load_archive
from invlatent.pipelines.images.data import SPLIT_NAMES, ImageData, load_data
from invlatent.pipelines.images.lift import (
    MEASURE_IMAGES,
    check_liftable,
    lifted,
    measure_lift,
    parse_lift,
    render_lift,
)
from invlatent.pipelines.images.models import limit_threads, load_model, resolve_device
from invlatent.pipelines.images.onnx_model import load_onnx
from invlatent.pipelines.images.progress import progress_bar
from invlatent.pipelines.images.rotate import (
    draw_angles,
    element_indices,
    parse_rotate,
    with_copies,
)
from invlatent.reporting import say
from invlatent.sampling import check_split_options, stratified_rows


def encode_checkpoint(
    model: str,
    data: str,
    *,
    rotate: str = "none",
    copies: int = 1,
    layer: str | None = None,
    split: str = "all",
    limit: int | None = None,
    batch_size: int = 256,
    seed: int = 0,
    device: str = "cpu",
    lift: str | None = None,
) -> LatentFile:
    """Latents of a named layer (default: the model's) of an invlatent-trained image model."""
    _check_options(rotate, copies, batch_size)
    group = parse_lift(lift) if lift else None
    net, config = load_model(model, device)
    layer = layer or net.default_layer
    if layer not in net.layer_names:
        raise InvlatentError(f"layer {layer!r}: this model has layers {', '.join(net.layer_names)}")
    images = _select(load_data(data), split, limit, config)
    action = Action.parse(net.layer_action(layer))
    opts = dict(data=data, rotate=rotate, copies=copies, layer=layer, split=split, limit=limit)
    fn = lambda x: net.encode(x, layer)  # noqa: E731
    return _encode(fn, images, action, model, opts, seed, batch_size, device, group)


def encode_torchscript(
    model: str,
    data: str,
    *,
    action: str | None = None,
    rotate: str = "none",
    copies: int = 1,
    split: str = "all",
    limit: int | None = None,
    batch_size: int = 256,
    seed: int = 0,
    device: str,
    lift: str | None = None,
    onnx: bool = False,
) -> LatentFile:
    """Latents of a foreign encoder (TorchScript, torch.export or ONNX) with a declared output
    action (default: trivial, the only one ``lift`` accepts).

    The encoder receives float32 images ``(B, C, H, W)`` in [0, 1] and must return ``z`` of
    the shape the action needs (``(B, F, N)`` for ``cN``, ``(B, F, N, H, H)`` for ``cN:grid``,
    ``(B, D)`` for ``so2``/``trivial``; with ``lift``, any ``(B, ...)``, flattened to ``(B, D)``).
    """
    _check_options(rotate, copies, batch_size)
    act = Action.parse(action or "trivial")
    group = parse_lift(lift) if lift else None
    net = load_onnx(model, device) if onnx else load_foreign(model, device)
    images = _select(load_data(data), split, limit, None)
    if onnx:
        net.check_input(images.x.shape[1:])
    opts = dict(data=data, rotate=rotate, copies=copies, split=split, limit=limit)
    opts["onnx" if onnx else "torchscript"] = True
    return _encode(guarded(net), images, act, model, opts, seed, batch_size, device, group)


def guarded(net):
    """Report a foreign encoder's failure on a batch as one line instead of a traceback."""

    def run(x: torch.Tensor):
        try:
            return net(x)
        except Exception as e:  # foreign code: any exception is the user's model failing
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise InvlatentError(
                f"the encoder failed on a batch of shape {list(x.shape)}: {first} "
                "(an exported program needs a dynamic batch dimension or a matching --batch-size)"
            ) from None

    return run


def load_foreign(path: str, device: str):
    """A TorchScript module or a ``torch.export`` archive, as a callable on ``device``."""
    return load_archive(path, resolve_device(device))


def _check_options(rotate: str, copies: int, batch_size: int) -> None:
    """Refuse arguments that cannot apply before any model or data is loaded."""
    parse_rotate(rotate)
    check_at_least(copies=(copies, 1), batch_size=(batch_size, 1))


def _select(data: ImageData, split: str, limit: int | None, config: dict | None) -> ImageData:
    """The requested split, at most ``limit`` rows, checked against the model's input shape."""
    check_split_options(split, limit)
    part = data.part(split)
    if limit is not None:
        part = part.take(stratified_rows(part.labels, limit))
    if config is not None:
        want = [config["in_channels"], *config["image_size"]]
        if list(part.x.shape[1:]) != want:
            raise InvlatentError(
                f"{data.name}: images of shape {list(part.x.shape[1:])}, "
                f"the model was trained on {want}"
            )
    return part


def _encode(
    fn,
    images: ImageData,
    action: Action,
    model_path: str,
    opts: dict,
    seed: int,
    batch_size: int,
    device: str,
    lift: Action | None = None,
) -> LatentFile:
    """Encode the selected rows (each rank its share under torchrun); with ``lift``, encode
    every pose of the group and record the lifted encoder's measured equivariance error."""
    if lift is not None:
        check_liftable(action, images.x.shape)
        fn, action, opts["lift"] = lifted(fn, lift), lift, str(lift)
    rows = with_copies(len(images.labels), opts["copies"])
    angles = draw_angles(parse_rotate(opts["rotate"]), len(rows), np.random.default_rng(seed))
    share = ranks.from_env().share(len(rows))  # under torchrun: this rank's rows
    rows, angles = rows[share], angles[share]
    dev = resolve_device(device)
    z = run_encoder(fn, images.x, rows, angles, batch_size, dev, action)
    g, g_kind = _elements(angles, action)
    meta = {
        "split_names": json.dumps(SPLIT_NAMES),
        "class_names": json.dumps(images.class_names),
    }
    if lift is not None:
        meta["lift"] = json.dumps(_lift_error(fn, images.x, action, dev, seed), sort_keys=True)
    step = make_step(
        "encode",
        {**opts, "batch_size": batch_size},
        inputs=[(model_path, sha256_of_file(model_path))],
        seed=seed,
    )
    return LatentFile(
        z=z,
        action=action,
        labels=images.labels[rows],
        ids=images.ids[rows],
        g=g,
        g_kind=g_kind,
        extra={"split": images.split[rows]},
        history=[step],
        meta=meta,
    )


def _lift_error(fn, x: np.ndarray, action: Action, device, seed: int) -> dict:
    """The lifted encoder's equivariance error per element on a few seeded images (stderr too)."""
    rng = np.random.default_rng([seed, 1])
    pick = np.sort(rng.choice(len(x), size=min(MEASURE_IMAGES, len(x)), replace=False))
    info = measure_lift(fn, x[pick], action, device)
    say("\n".join(render_lift(info)))
    return info


def run_encoder(
    fn,
    x: np.ndarray,
    rows: np.ndarray,
    angles: np.ndarray,
    batch: int,
    device: torch.device,
    action: Action,
) -> np.ndarray:
    """Rotate and encode ``x[rows]`` batch by batch; progress on stderr; returns float32 ``z``.

    ``z`` is allocated once, after the first batch gives its row shape, and its size is said on
    stderr at the end: feature maps (``cN:grid``) take B·F·|G|·H·W floats, far more than the
    pooled fields.
    """
    limit_threads()
    z = None
    t0 = time.perf_counter()
    with torch.no_grad(), progress_bar(len(rows), "encode") as advance:
        for i in range(0, len(rows), batch):
            xb = rotate_images(x[rows[i : i + batch]], angles[i : i + batch])
            out = _check_output(fn(torch.from_numpy(xb).to(device)), action, len(xb))
            if z is None:
                z = np.empty((len(rows), *out.shape[1:]), dtype=np.float32)
            if out.shape[1:] != z.shape[1:]:
                raise InvlatentError(
                    f"the encoder returned rows of shape {list(out.shape[1:])} for one batch "
                    f"and {list(z.shape[1:])} for the first"
                )
            z[i : i + len(xb)] = out
            advance(len(xb))
    seconds = time.perf_counter() - t0
    say(
        f"encoded {len(z)} images into z {list(z.shape)} ({action}, {_size(z.nbytes)}) "
        f"in {seconds:.1f} s"
    )
    return z


def _size(nbytes: int) -> str:
    """Bytes for people: ``12.3 MB``."""
    return f"{nbytes / 1e6:.1f} MB" if nbytes >= 1e5 else f"{nbytes / 1e3:.1f} kB"


def _check_output(out, action: Action, b: int) -> np.ndarray:
    if not isinstance(out, torch.Tensor):
        raise InvlatentError(f"the encoder returned {type(out).__name__}, expected one tensor")
    z = out.detach().float().cpu().numpy()
    problem = (
        action.shape_problem(z.shape)
        if z.shape[:1] == (b,)
        else f"{b} rows expected, got {list(z.shape)}"
    )
    if problem:
        raise InvlatentError(f"the encoder's output does not fit the declared action: {problem}")
    return z


def _elements(angles: np.ndarray, action: Action) -> tuple[np.ndarray, str]:
    """``g``: rotation indices when every angle is a rotation of a cN/dN action, else angles."""
    if action.finite:
        k = element_indices(angles, action.order)
        if k is not None:
            return k, "index"
    return angles.astype(np.float64), "angle"
