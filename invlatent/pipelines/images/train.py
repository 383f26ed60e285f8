"""Training image classifiers (group CNN or augmented plain CNN) on the rotated-data protocol.

Protocol: every epoch rotates each training image by a fresh random angle (``augment="rotate"``);
the test images are rotated once by random angles drawn from a fixed seed, so every model is
scored on the same rotated test set. Same seed → same weights: the data order, the rotations
and the initial weights all come from ``seed``.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from invlatent import __version__, ranks
from invlatent.errors import InvlatentError
from invlatent.groups.pixels import rotate_images
from invlatent.pipelines.images.data import SPLIT_SEED, ImageData, load_data
from invlatent.pipelines.images.gconv import BASES
from invlatent.pipelines.images.models import (
    build_model,
    count_parameters,
    default_blocks,
    limit_threads,
    resolve_device,
    save_model,
)
from invlatent.pipelines.images.progress import progress_bar
from invlatent.pipelines.training import seeded

AUGMENTS = ("rotate", "none")
TEST_ROTATES = ("random", "none")


@dataclass
class TrainOptions:
    """Everything a training run depends on (recorded in the checkpoint config)."""

    arch: str
    group: str | None = None
    data: str = "mnist"
    epochs: int = 20
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 0
    device: str = "cpu"
    augment: str = "rotate"
    test_rotate: str = "random"
    widths: list[int] = field(default_factory=list)
    hidden: int = 0
    basis: str = "harmonic"

    def check(self) -> None:
        """Refuse bad values before any data is loaded."""
        if self.augment not in AUGMENTS:
            raise InvlatentError(f"augment {self.augment!r}: expected {' or '.join(AUGMENTS)}")
        if self.test_rotate not in TEST_ROTATES:
            raise InvlatentError(
                f"test_rotate {self.test_rotate!r}: expected {' or '.join(TEST_ROTATES)}"
            )
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise InvlatentError(f"{name} must be at least 1")
        if not self.lr > 0:
            raise InvlatentError(f"lr must be positive, got {self.lr}")
        if self.arch == "gcnn" and self.basis not in BASES:
            raise InvlatentError(f"basis {self.basis!r}: expected {' or '.join(BASES)}")
        if any(w < 1 for w in self.widths) or not self.widths:
            raise InvlatentError("widths must list at least one positive layer width")


def train(opts: TrainOptions, report=None) -> tuple[torch.nn.Module, dict]:
    """Train a model; ``report(epoch, row)`` is called after each epoch. Returns (model, config)."""
    opts.check()
    ctx = ranks.init(opts.device)
    device = resolve_device(ctx.device(opts.device))
    limit_threads()
    data = load_data(opts.data)
    train_set, test_set = data.part("train"), data.part("test")
    config = _config(opts, data)
    with seeded(opts.seed):
        model = build_model(config).to(device)
        x_test = _test_images(test_set, opts.test_rotate)
        history = _fit(ctx, model, train_set, x_test, test_set.labels, opts, device, report)
        config.update(history=history, test_accuracy=history[-1]["test_accuracy"])
        config["n_parameters"] = count_parameters(model)
        return model.eval(), config


def train_to_file(opts: TrainOptions, output: str, report=None) -> dict:
    """Train and write the checkpoint to ``output``; returns the config."""
    model, config = train(opts, report)
    ctx = ranks.from_env()
    if ctx.is_main:
        save_model(output, model.cpu(), config)
    ctx.barrier()
    ranks.finish()
    return config


def _config(opts: TrainOptions, data: ImageData) -> dict:
    c, h, w = data.x.shape[1:]
    if opts.arch == "gcnn" and h != w:
        raise InvlatentError(f"{data.name}: a group CNN needs square images, got {h}×{w}")
    return {
        "family": "images",
        "arch": opts.arch,
        "group": opts.group,
        "in_channels": int(c),
        "image_size": [int(h), int(w)],
        "n_classes": data.n_classes,
        "class_names": data.class_names,
        "blocks": default_blocks(opts.widths, min(h, w)),
        "hidden": opts.hidden,
        "basis": opts.basis if opts.arch == "gcnn" else None,
        "data": data.describe(),
        "preprocessing": {
            "input": "float32 (B, C, H, W) in [0, 1]",
            "rotation": "bilinear about the image centre, zeros outside",
            "augment": opts.augment,
            "test_rotate": opts.test_rotate,
        },
        "training": {
            k: v for k, v in asdict(opts).items() if k not in ("arch", "group", "data", "basis")
        },
        "version": __version__,
    }


def _test_images(test: ImageData, mode: str) -> np.ndarray:
    """The test images, rotated by angles from a fixed seed under the rotated protocol."""
    if mode == "none":
        return test.x
    rng = np.random.default_rng([SPLIT_SEED, 2])
    return rotate_images(test.x, rng.uniform(0, 2 * np.pi, len(test.x)))


def _fit(
    ctx, model, train_set: ImageData, x_test, y_test, opts: TrainOptions, device, report
) -> list[dict]:
    """The training loop. Under torchrun (``ctx.active``) each rank trains on its
    DistributedSampler share of every epoch (same angles as one process would draw), gradients
    averaged by DDP; rank 0 evaluates and reports."""
    net = ctx.wrap(model)
    rng = np.random.default_rng(opts.seed)
    n = len(train_set.labels)
    steps = max(1, -(-n // ctx.world) // opts.batch_size)
    optim = torch.optim.AdamW(net.parameters(), lr=opts.lr, weight_decay=opts.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(optim, opts.lr, total_steps=steps * opts.epochs)
    history = []
    bar = progress_bar(steps * opts.epochs, "train") if ctx.is_main else _no_bar()
    with bar as advance:
        for epoch in range(opts.epochs):
            t0 = time.perf_counter()
            x, y, batches = _epoch_data(ctx, train_set, opts, rng, epoch, steps)
            with ranks.collective("training step"):
                loss, acc = _epoch(net, x, y, batches, optim, sched, device, advance)
            test_acc = accuracy(model, x_test, y_test, device) if ctx.is_main else float("nan")
            row = {"epoch": epoch + 1, "loss": round(loss, 5), "train_accuracy": round(acc, 5),
                   "test_accuracy": round(test_acc, 5)}  # fmt: skip
            if ctx.active:
                row["processes"] = ctx.world
            history.append(row)
            if report and ctx.is_main:
                report(epoch + 1, {**row, "seconds": time.perf_counter() - t0})
    return history


def _epoch_data(ctx, train_set: ImageData, opts: TrainOptions, rng, epoch: int, steps: int):
    """This rank's images, labels and batches of one epoch (angles drawn for all ``n`` rows)."""
    n = len(train_set.labels)
    angles = rng.uniform(0, 2 * np.pi, n) if opts.augment == "rotate" else None
    if not ctx.active:
        x = train_set.x if angles is None else rotate_images(train_set.x, angles)
        return x, train_set.labels, np.array_split(rng.permutation(n), steps)
    idx = ctx.epoch_indices(n, opts.seed, epoch)
    x = train_set.x[idx] if angles is None else rotate_images(train_set.x[idx], angles[idx])
    return x, train_set.labels[idx], np.array_split(np.arange(len(idx)), steps)


@contextlib.contextmanager
def _no_bar():
    yield lambda *args, **kwargs: None


def _epoch(model, x, y, batches, optim, sched, device, advance) -> tuple[float, float]:
    """One pass over the data; returns the mean loss and the training accuracy."""
    model.train()
    total, correct, seen = 0.0, 0, 0
    for idx in batches:
        xb = torch.from_numpy(x[idx]).to(device)
        yb = torch.from_numpy(y[idx]).to(device)
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
        sched.step()
        total += float(loss.detach()) * len(idx)
        correct += int((logits.argmax(1) == yb).sum())
        seen += len(idx)
        advance(1, loss=total / seen, acc=correct / seen)
    return total / seen, correct / seen


@torch.no_grad()
def accuracy(model, x: np.ndarray, y: np.ndarray, device, batch: int = 500) -> float:
    """Fraction of correctly classified images (eval mode)."""
    model.eval()
    hits = 0
    for i in range(0, len(y), batch):
        pred = model(torch.from_numpy(x[i : i + batch]).to(device)).argmax(1).cpu().numpy()
        hits += int((pred == y[i : i + batch]).sum())
    return hits / len(y)
