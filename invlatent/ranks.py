"""Training and encoding under ``torchrun``, with PyTorch's own distributed engine.

``torchrun --nproc-per-node N -m invlatent train …`` (or ``encode``) starts N processes and sets
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous address in their environment.
``init`` joins the process group from that environment (``gloo`` on CPU, ``nccl`` on CUDA);
without torchrun, or with one process, it returns a one-process context and nothing here changes
the plain path. A training loop adopts it in four calls::

    ctx = distributed.init(device)             # after argument checks, before building the model
    model = ctx.wrap(model)                    # DistributedDataParallel when ctx.active
    idx = ctx.epoch_indices(n, seed, epoch)    # this rank's rows of the epoch (DistributedSampler)
    if ctx.is_main: save(...)                  # progress and checkpoint on rank 0 only

and ``ctx.share(n)`` gives a rank its contiguous block of rows for encoding. Errors under
torchrun name the rank (``invlatent: error: rank 1: …``); when one rank fails, the others leave
their collective with an error naming no data of their own, and torchrun stops the group.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import signal
from dataclasses import dataclass

import numpy as np

from invlatent.errors import InvlatentError

TIMEOUT_S = 600


@dataclass(frozen=True)
class Context:
    """This process's place in the group: rank, world size and local rank (one process: 0, 1)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        """True when several processes share the work."""
        return self.world > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that prints progress and writes checkpoints and manifests."""
        return self.rank == 0

    def device(self, device: str) -> str:
        """The device of this rank: ``cuda:LOCAL_RANK`` for CUDA, else ``device`` unchanged."""
        return f"cuda:{self.local_rank}" if self.active and device.startswith("cuda") else device

    def wrap(self, model):
        """The model wrapped in DistributedDataParallel when several processes train it."""
        if not self.active:
            return model
        from torch.nn.parallel import DistributedDataParallel

        on_gpu = next(model.parameters()).is_cuda
        return DistributedDataParallel(model, device_ids=[self.local_rank] if on_gpu else None)

    def epoch_indices(self, n: int, seed: int, epoch: int) -> np.ndarray:
        """This rank's sample indices for one epoch: ``DistributedSampler`` shuffled by
        (seed, epoch), padded so every rank gets the same number."""
        from torch.utils.data import DistributedSampler

        sampler = DistributedSampler(
            range(n), num_replicas=self.world, rank=self.rank, shuffle=True, seed=seed
        )
        sampler.set_epoch(epoch)
        return np.fromiter(iter(sampler), dtype=np.int64)

    def share(self, n: int) -> slice:
        """This rank's contiguous block of ``n`` rows (ranks in order cover 0..n-1 once)."""
        bounds = np.linspace(0, n, self.world + 1).round().astype(int)
        return slice(int(bounds[self.rank]), int(bounds[self.rank + 1]))

    def barrier(self) -> None:
        """Wait for every rank (a rank that failed turns into an error here)."""
        if self.active:
            with collective("barrier"):
                import torch.distributed as dist

                dist.barrier()

    def gather(self, value) -> list:
        """``value`` of every rank, in rank order (on every rank)."""
        if not self.active:
            return [value]
        import torch.distributed as dist

        out = [None] * self.world
        with collective("all_gather"):
            dist.all_gather_object(out, value)
        return out


def from_env() -> Context:
    """The context torchrun's environment describes (one process when there is none)."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise InvlatentError("RANK / WORLD_SIZE / LOCAL_RANK must be integers") from None
    return Context(rank, world, local)


def init(device: str = "cpu") -> Context:
    """Join the process group torchrun described (gloo on CPU, nccl on CUDA); idempotent."""
    ctx = from_env()
    if not ctx.active:
        return ctx
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(ctx.local_rank)
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=TIMEOUT_S))
        signal.signal(signal.SIGTERM, _stop)
    return ctx


def finish() -> None:
    """Leave the process group (at the end of a command run under torchrun)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def rank_prefix() -> str:
    """``rank N: `` under torchrun with several processes (for one-line errors), else ``""``."""
    ctx = from_env()
    return f"rank {ctx.rank}: " if ctx.active else ""


@contextlib.contextmanager
def collective(what: str):
    """Turn a collective that fails because another rank stopped into one ``InvlatentError``;
    in one process (no group) an error passes through unchanged."""
    try:
        yield
    except RuntimeError:
        if not from_env().active:
            raise
        raise InvlatentError(f"{what} failed: another rank stopped") from None


def _stop(signum, frame) -> None:
    """torchrun stops the other ranks with SIGTERM when one fails: unwind (cleanups run)."""
    raise InvlatentError("stopped by torchrun after another rank failed")
