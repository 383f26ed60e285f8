"""SO(2) irreps ``so2:f1,f2,…``: ``z (B, D)``, frequency 0 a scalar, k ≥ 1 a 2-vector turned by
kθ; ``g`` holds the angle θ."""

from __future__ import annotations

import re

import numpy as np

from invlatent.groups import quotient, transforms
from invlatent.groups.action import Action, ActionError
from invlatent.groups.family import Family, register

_FREQ = re.compile(r"^([0-9]{1,12})(?:x([0-9]{1,12}))?$")
MAX_FREQ = 1 << 20  # the largest frequency k
MAX_FREQS = 1 << 20  # frequencies in one action (D <= 2·MAX_FREQS)


class Rotations2d(Family):
    """SO(2) acting on a direct sum of its real irreps."""

    kind = "so2"
    projections = "so2"
    closed_orbits = True

    def parse(self, text: str):
        if text != "so2" and not text.startswith("so2:"):
            return None
        return Action.so2(_parse_freqs(text[4:], text))

    def format(self, action) -> str:
        return "so2:" + ",".join(map(str, action.freqs))

    def problem(self, action) -> str | None:
        if not action.freqs or any(f < 0 for f in action.freqs):
            return f"so2 frequencies must be a non-empty list of integers >= 0, got {action.freqs}"
        return None

    def g_kind(self, action) -> str:
        return "angle"

    def shape_problem(self, action, shape):
        if len(shape) != 2 or shape[1] != action.so2_dim:
            return (
                f"action {action} needs z of shape [B, {action.so2_dim}] "
                f"(frequencies {list(action.freqs)}), got {list(shape)}"
            )
        return None

    def act(self, action, z, g, mask=None, g_perm=None):
        return transforms.rotate_irreps(z, np.asarray(g, dtype=np.float64), action.freqs), mask

    def sample(self, action, batch, rng, n_nodes=0):
        return rng.uniform(0.0, 2 * np.pi, size=batch)

    def align(self, action, z1, z2, mask1=None, mask2=None):
        return quotient.align_so2(action.freqs, z1, z2)

    def orbit_elements(self, action, size, rng, n_nodes=0):
        return np.arange(size) * (2 * np.pi / size)


def _parse_freqs(body: str, original: str) -> tuple[int, ...]:
    """Parse ``0,1,1,2`` or the multiplicity form ``0x1,1x2,2x1`` into a frequency tuple, each
    count checked against the limits before the tuple is built."""
    freqs: list[int] = []
    for part in filter(None, body.split(",")):
        m = _FREQ.match(part)
        if not m:
            raise ActionError(f"group {original[:60]!r}: cannot read frequency {part[:30]!r}")
        freq, mult = int(m.group(1)), int(m.group(2) or 1)
        if freq > MAX_FREQ or len(freqs) + mult > MAX_FREQS:
            raise ActionError(
                f"group {original[:60]!r}: over the limits (frequencies <= {MAX_FREQ}, "
                f"at most {MAX_FREQS} of them)"
            )
        freqs += [freq] * mult
    if not freqs:
        raise ActionError(f"group {original[:60]!r}: so2 needs frequencies, e.g. so2:0,1,1,2")
    return tuple(freqs)


SO2 = register(Rotations2d())
