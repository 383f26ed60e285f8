"""The ``--rotate`` option: which rotations images are presented in (the pixel maths that turns
them is :mod:`invlatent.groups.pixels`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from invlatent.errors import InvlatentError


@dataclass(frozen=True)
class RotateSpec:
    """A parsed ``--rotate`` value: ``none``, ``random``, ``cN`` or an explicit angle list."""

    kind: str
    order: int = 0
    angles: tuple[float, ...] = ()

    def __str__(self) -> str:
        if self.kind == "cyclic":
            return f"c{self.order}"
        if self.kind == "angles":
            return "angles=" + ",".join(f"{np.degrees(a):g}" for a in self.angles)
        return self.kind


def parse_rotate(text: str) -> RotateSpec:
    """Parse ``none``, ``random``, ``cN`` (1 <= N <= 2^20) or ``angles=a,b,...`` (degrees)."""
    s = str(text).strip().lower().replace(" ", "")
    if s in ("none", "random"):
        return RotateSpec(s)
    if s.startswith("c") and s[1:].isascii() and s[1:].isdigit() and 1 <= int(s[1:]) <= 1 << 20:
        return RotateSpec("cyclic", order=int(s[1:]))
    if s.startswith("angles="):
        try:
            degs = [float(a) for a in s[len("angles=") :].split(",") if a]
        except ValueError:
            degs = []
        if degs and np.isfinite(degs).all():
            return RotateSpec("angles", angles=tuple(np.radians(degs).tolist()))
    raise InvlatentError(
        f"rotate {str(text)[:60]!r}: expected none, random, cN (e.g. c8, N up to 2^20) or "
        "angles=A,B,... in degrees (finite numbers)"
    )


def draw_angles(spec: RotateSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    """One angle (radians, float64) per sample: random ones from ``rng``, or the listed ones."""
    if spec.kind == "none":
        return np.zeros(n)
    if spec.kind == "random":
        return rng.uniform(0.0, 2 * np.pi, size=n)
    if spec.kind == "cyclic":
        return 2 * np.pi * rng.integers(0, spec.order, size=n) / spec.order
    return np.asarray(spec.angles)[rng.integers(0, len(spec.angles), size=n)]


def element_indices(angles: np.ndarray, order: int) -> np.ndarray | None:
    """Angles as indices k of r^k among ``order`` rotations (None if an angle is none of them)."""
    steps = np.asarray(angles) * order / (2 * np.pi)
    k = np.round(steps)
    if not np.all(np.abs(steps - k) < 1e-9):
        return None
    return (k.astype(np.int64) % order).astype(np.int64)


def with_copies(n: int, copies: int) -> np.ndarray:
    """Source row of each output row when every sample gets ``copies`` consecutive copies."""
    if copies < 1:
        raise InvlatentError(f"copies must be at least 1, got {copies}")
    return np.repeat(np.arange(n), copies)
