"""Progress on stderr and a time budget: a stage runs only when its estimated cost still fits.

Estimates are prior costs per unit of work (seconds on a loaded 2-core machine), scaled by how
the stages that already ran compared with their own estimates, so a slow machine skips sooner.
"""

from __future__ import annotations

import time

from invlatent.reporting import say

PRIOR = {  # seconds per unit; units: methods (check), 1000 rows x files (probe), 1000 points
    "check": 0.6,
    "probe:linear": 0.6,
    "probe:ridge": 0.3,
    "probe:knn": 0.8,
    "probe:mlp": 8.0,
    "panel:pca": 0.5,
    "panel:umap": 12.0,
}


class Budget:
    """Wall-clock budget of one report (None: unlimited), with the stages it skipped."""

    def __init__(self, seconds: float | None, *, quiet: bool = False) -> None:
        self.seconds = seconds
        self.quiet = quiet
        self.start = time.perf_counter()
        self.skipped: list[str] = []
        self._ratio: list[float] = []

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def estimate(self, stage: str, units: float) -> float:
        """The expected seconds of ``units`` of ``stage``, calibrated on the stages so far."""
        scale = max(self._ratio[-3:]) if self._ratio else 1.0
        return PRIOR[stage] * units * scale

    def fits(self, stage: str, units: float, what: str) -> bool:
        """True when the stage fits the remaining time; otherwise records it as skipped."""
        if self.seconds is None:
            return True
        need = self.estimate(stage, units)
        left = self.seconds - self.elapsed()
        if need <= left:
            return True
        self.skip(f"{what}: needs about {need:.0f} s, {max(left, 0):.0f} s of the "
                  f"{self.seconds:g} s budget left")  # fmt: skip
        return False

    def done(self, stage: str, units: float, seconds: float) -> None:
        """Record how long a stage took against its estimate."""
        expected = PRIOR[stage] * max(units, 1e-9)
        self._ratio.append(max(seconds / expected, 0.2))

    def skip(self, message: str) -> None:
        """Say on stderr what was skipped and why, and keep it for the report."""
        self.skipped.append(message)
        self.say(f"skipped {message}")

    def say(self, message: str) -> None:
        """A progress line on stderr with the elapsed time."""
        if not self.quiet:
            say(f"report: [{self.elapsed():6.1f} s] {message}")
