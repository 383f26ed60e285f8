"""Building image models from their JSON config, and checkpoint save/load without pickle."""

from __future__ import annotations

import os

import numpy as np
import torch

from invlatent.errors import InvlatentError
from invlatent.format.checkpoint import load_checkpoint, save_checkpoint

KERNELS = (5, 3)
POOL_AFTER = (0, 2)  # 2×2 pooling after the first and the third block


def default_blocks(widths: list[int], size: int) -> list[list]:
    """``[width, kernel, pool_after]`` per block: 5×5 first, then 3×3; pool while sizes are even."""
    blocks = []
    for i, w in enumerate(widths):
        pool = i in POOL_AFTER and size % 2 == 0 and size >= 4
        size = size // 2 if pool else size
        blocks.append([int(w), KERNELS[0] if i == 0 else KERNELS[1], pool])
    return blocks


def build_model(config: dict) -> torch.nn.Module:
    """A fresh model of the architecture a config describes."""
    arch = config.get("arch")
    if arch == "gcnn":
        from invlatent.pipelines.images.gcnn import GCNN

        return GCNN(
            config["group"],
            config["in_channels"],
            config["n_classes"],
            config["blocks"],
            config["hidden"],
            config.get("basis", "pixel"),
        )
    if arch == "cnn":
        from invlatent.pipelines.images.cnn import CNN

        return CNN(config["in_channels"], config["n_classes"], config["blocks"], config["hidden"])
    raise InvlatentError(f"unknown image model architecture {arch!r} in the config")


def save_model(path: str, model: torch.nn.Module, config: dict) -> None:
    """Write a checkpoint: the state dict as numpy arrays plus the JSON config."""
    state = {k: v.detach().cpu().contiguous().numpy() for k, v in model.state_dict().items()}
    save_checkpoint(path, state, config)


def load_model(path: str, device: str = "cpu") -> tuple[torch.nn.Module, dict]:
    """Rebuild a trained image model from its checkpoint, in eval mode on ``device``."""
    state, config = load_checkpoint(path)
    if config.get("family") != "images":
        raise InvlatentError(f"{path}: not an image model (family {config.get('family')!r})")
    model = build_model(config)
    tensors = {k: torch.from_numpy(np.array(v)) for k, v in state.items()}
    try:
        model.load_state_dict(tensors)
    except RuntimeError as e:
        first = str(e).splitlines()[0]
        raise InvlatentError(f"{path}: weights do not match the config ({first})") from None
    return model.to(resolve_device(device)).eval(), config


def resolve_device(device: str) -> torch.device:
    """``cpu`` or ``cuda`` (refused, with a reason, when no GPU is available)."""
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise InvlatentError(f"device {device!r}: expected cpu or cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InvlatentError(f"device {device}: no CUDA GPU is available to this torch build")
    return torch.device(device)


def limit_threads(n: int = 2) -> None:
    """Use at most ``n`` CPU threads, and one on machines of two cores or fewer.

    Those are shared here: with other processes busy, two OpenMP threads that wait for each
    other ran small models up to 100 times slower than one thread (measured, docs/images.md).
    """
    n = 1 if (os.cpu_count() or 1) <= 2 else n
    torch.set_num_threads(max(1, min(n, torch.get_num_threads())))


def count_parameters(model: torch.nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))
