"""What every projection shares: its declared guarantees, seeded templates, chunked evaluation."""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from invlatent.groups.action import Action
from invlatent.groups.rowwise import matmul_rows
from invlatent.projections._xp import namespace

CHUNK_BYTES = 1 << 20
MAX_CHUNK_ROWS = 8192

# fn(action, z chunk (b, ...) float32, mask chunk or None, params) -> (out (b, D), {name: (b, ...)})
ProjectFn = Callable[[Action, np.ndarray, "np.ndarray | None", "Params"], tuple]


@dataclass(frozen=True)
class Params:
    """Options of one projection call; ``shape`` is z's shape without the batch axis."""

    shape: tuple[int, ...]
    dim: int | None = None
    seed: int = 0
    key_channel: int | None = None


@dataclass(frozen=True)
class Method:
    """One projection and the guarantees it declares (printed by ``project --list``).

    ``equivariant`` methods keep the group: their output carries the input's pooled action
    (``cN:grid`` → ``cN``, see ``output_action``) instead of ``trivial``.
    """

    name: str
    family: str
    fn: ProjectFn
    summary: str
    size: str
    invariant: str = "yes"
    injective: str = "no"
    isometric: str = "no"
    convex: str = "no"
    element: str | None = None
    cross_section: bool = False
    random: bool = False
    dim_help: str | None = None
    key_channel: bool = False
    equivariant: bool = False
    differentiable: bool = False  # written against the array API: torch tensors keep autograd

    def output_action(self, action: Action) -> Action:
        """The action on this method's output: trivial, or the pooled fields if equivariant."""
        return action.pooled if self.equivariant else Action.parse("trivial")

    def guarantees(self) -> dict[str, str]:
        """The guarantees table row of this method."""
        return {
            "method": self.name,
            "invariant": self.invariant,
            "injective on orbits": self.injective,
            "isometric": self.isometric,
            "convex image": self.convex,
            "output size": self.size,
            "element": self.element or "-",
            "summary": self.summary,
        }


def template_rng(name: str, params: Params, *extra: int) -> np.random.Generator:
    """A generator derived from the seed, the method and the shapes only (never the batch)."""
    key = [int(params.seed), zlib.crc32(name.encode()), *params.shape, *extra]
    return np.random.default_rng(key)


def rowwise_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for a 2-D ``a`` whose every output row depends on its input row alone: taken
    in float64 in fixed-shape BLAS calls (``groups.rowwise``) and rounded to ``a``'s float type
    at the end (float64 stays float64)."""
    vector = b.ndim == 1
    out = matmul_rows(a, np.asarray(b).reshape(b.shape[0], -1))
    out = out.astype(np.result_type(a.dtype, np.float32), copy=False)
    return out[:, 0] if vector else out


def root_normalise(t: np.ndarray, degree: int) -> np.ndarray:
    """Complex invariants of degree ``degree`` rescaled to degree 1: |t|^(1/deg) with t's phase."""
    mag = np.abs(t)
    scale = np.where(mag > 0, mag ** (1.0 / degree) / np.where(mag > 0, mag, 1.0), 0.0)
    return t * scale


def complex_columns(t):
    """Flatten a complex array (b, ...) to real columns (b, 2·m): real and imaginary parts
    (numpy or torch)."""
    xp = namespace(t)
    t = flat(t)
    return flat(xp.stack([xp.real(t), xp.imag(t)], axis=-1))


def flat(x):
    """(b, ...) → (b, prod(...)), also for an empty batch (numpy or torch)."""
    return x.reshape(x.shape[0], math.prod(x.shape[1:]))


def run_chunked(method: Method, action: Action, z, mask, params: Params):
    """Apply ``method`` in row chunks (bounded memory); returns float32 (B, D) and extras."""
    b = int(z.shape[0])
    out, extras = None, {}
    for start, o, ex in iter_chunks(method, action, z, mask, params):
        if out is None:
            out = np.empty((b, o.shape[1]), dtype=np.float32)
            extras = {k: np.empty((b, *v.shape[1:]), dtype=v.dtype) for k, v in ex.items()}
        out[start : start + len(o)] = o
        for k, v in ex.items():
            extras[k][start : start + len(v)] = v
    return out, extras


def iter_chunks(method: Method, action: Action, z, mask, params: Params):
    """``(start, out, extras)`` of ``method`` on successive row chunks of about ``CHUNK_BYTES``
    (one empty chunk for an empty batch): a stream writes each as it comes."""
    b = int(z.shape[0])
    row_bytes = max(1, int(np.prod(z.shape[1:])) * 4)
    step = max(1, min(MAX_CHUNK_ROWS, CHUNK_BYTES // row_bytes))
    for start in range(0, max(b, 1), step):
        stop = min(b, start + step)
        zc = np.asarray(z[start:stop], dtype=np.float32)
        mc = None if mask is None else np.asarray(mask[start:stop], dtype=bool)
        o, ex = method.fn(action, zc, mc, params)
        yield start, np.asarray(o, dtype=np.float32), ex
