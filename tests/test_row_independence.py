"""Every projection's output row depends on its input row alone: not on how the rows are cut."""

import os

import numpy as np
import pytest

from invlatent.format import latentfile as lfm
from invlatent.projections import methods_for, project_with_extras

SAMPLES = os.path.join(os.path.dirname(__file__), "..", "sample_latents")
FILES = sorted(f for f in os.listdir(SAMPLES) if f.endswith(".st"))


def _cut(lf, method: str, step: int, offset: int = 0, stop: int | None = None):
    """The projection of rows ``offset:stop`` of ``lf``, computed ``step`` rows at a time."""
    parts = []
    stop = len(lf) if stop is None else stop
    for start in range(offset, stop, step):
        rows = slice(start, min(stop, start + step))
        mask = None if lf.mask is None else lf.mask[rows]
        out, extras = project_with_extras(lf.action, lf.z[rows], mask, method=method, seed=3)
        parts.append((out, extras))
    out = np.concatenate([p[0] for p in parts])
    extras = {k: np.concatenate([p[1][k] for p in parts]) for k in parts[0][1]}
    return out, extras


@pytest.mark.parametrize("name", FILES)
def test_bytes_do_not_depend_on_how_the_rows_are_cut(name):
    lf = lfm.read(os.path.join(SAMPLES, name)).subset(np.arange(72))  # > one BLAS block
    for method in methods_for(lf.action):
        whole, whole_extras = _cut(lf, method, len(lf))
        for step, offset, stop in ((1, 0, 10), (7, 0, None), (70, 1, None)):
            out, extras = _cut(lf, method, step, offset, stop)
            assert out.tobytes() == whole[offset:stop].tobytes(), (method, step, offset)
            for k, v in extras.items():
                assert v.tobytes() == whole_extras[k][offset:stop].tobytes(), (method, k, step)
