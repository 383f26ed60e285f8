"""Which input a panel's file was projected from, and how to project raw orbit members alike.

A file made by ``invlatent project`` ends its history with a ``project`` step that records the
method, its options and the SHA-256 of its input. When that input is another file of the same
``viz`` call, raw orbit members can be pushed through the same projection.
"""

from __future__ import annotations

import numpy as np

from invlatent.errors import InvlatentError
from invlatent.format.latentfile import LatentFile, input_hash

PROJECT_KEYS = ("dim", "key_channel")


def projection_step(lf: LatentFile) -> dict | None:
    """The last history step when it is a ``project`` step, else None."""
    step = lf.history[-1] if lf.history else None
    return step if isinstance(step, dict) and step.get("command") == "project" else None


def find_source(lf: LatentFile, others: list[LatentFile]) -> LatentFile | None:
    """The file among ``others`` that ``lf`` was projected from (matched by SHA-256), if any."""
    step = projection_step(lf)
    if step is None:
        return None
    wanted = {i.get("sha256") for i in step.get("inputs", []) if isinstance(i, dict)}
    return next((o for o in others if o is not lf and input_hash(o) in wanted - {""}), None)


def project_like(step: dict, action, z: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Apply the projection recorded in ``step`` to raw latents ``z`` of the given ``action``."""
    try:
        from invlatent.projections import project_array
    except ImportError:
        raise InvlatentError(
            "drawing orbits in a projected panel needs invlatent.projections.project_array, "
            "which this installation lacks"
        ) from None
    opts = {k.replace("-", "_"): v for k, v in (step.get("options") or {}).items()}
    kwargs = {k: opts[k] for k in PROJECT_KEYS if opts.get(k) is not None}
    seed = step.get("seed") if step.get("seed") is not None else opts.get("seed", 0)
    if "method" not in opts:
        raise InvlatentError("the file's project step records no method; cannot project orbits")
    out = project_array(action, z, mask, method=opts["method"], seed=seed, **kwargs)
    return np.asarray(out[0] if isinstance(out, tuple) else out)
