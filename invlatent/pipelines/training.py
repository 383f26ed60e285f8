"""What the pipelines' training loops share: a clock that follows steps or a time budget, the
cosine learning-rate schedule, an exponential moving average of the weights, and a seeded scope
for torch's global generator."""

from __future__ import annotations

import contextlib
import copy
import math
import time

from invlatent import ranks


class Clock:
    """Training progress in [0, 1]: by steps, or by wall time when a time budget is set.

    Under torchrun the wall time is the slowest rank's, agreed after every step (``agree``), so
    that every rank sets the same learning rate and stops at the same step.
    """

    def __init__(self, total_steps: int, max_minutes: float | None, ctx=None) -> None:
        self.total, self.budget = total_steps, max_minutes
        self.step, self.start = 0, time.time()
        self.ctx = ctx or ranks.Context()
        self.world, self.shared = self.ctx.world, 0.0

    def elapsed(self) -> float:
        """Seconds since the clock started."""
        return time.time() - self.start

    def agree(self) -> None:
        """Under torchrun with a time budget: adopt the largest elapsed time of all ranks."""
        if self.ctx.active and self.budget:
            self.shared = max(self.ctx.gather(self.elapsed()))

    def fraction(self) -> float:
        """How much of the schedule is done (at least the steps' share)."""
        by_steps = self.step / self.total
        if not self.budget:
            return by_steps
        seconds = self.shared if self.ctx.active else self.elapsed()
        return max(by_steps, seconds / (60 * self.budget))


def cosine(fraction: float, warm: float, floor: float) -> float:
    """Learning-rate factor: linear warm-up over ``warm`` of the schedule, then cosine decay to
    ``floor``."""
    if fraction < warm:
        return (fraction + 1e-3) / warm
    t = min(1.0, (fraction - warm) / (1 - warm))
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))


class Ema:
    """An exponential moving average of the weights (decay warmed up over the first steps):
    smoother final weights than the last step's, at the cost of one copy of the model."""

    def __init__(self, model, decay: float) -> None:
        self.model, self.decay = copy.deepcopy(model).eval(), decay
        self.model.requires_grad_(False)

    def update(self, model, step: int) -> None:
        """Move the average towards ``model``'s weights after training step ``step``."""
        import torch

        weight = 1.0 - min(self.decay, (1.0 + step) / (10.0 + step))
        with torch.no_grad():
            torch._foreach_lerp_(list(self.model.parameters()), list(model.parameters()), weight)


@contextlib.contextmanager
def seeded(seed: int):
    """torch's global generator seeded with ``seed`` inside, and restored after: a training run
    is reproducible and leaves the caller's random state as it was."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
