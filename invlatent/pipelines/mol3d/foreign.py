"""A user's own 3-D encoder (TorchScript, ``torch.export`` or ONNX) over structure files.

The model maps one structure, ``positions`` float32 ``[n, 3]`` (Å) and atomic ``numbers`` int64
``[n]``, to node features ``[n, D]`` (``--group sn*o3:IRREPS``, or ``sn`` for invariant node
features) or to one vector ``[D]`` (``--group o3:IRREPS``, ``so3:IRREPS`` or ``trivial``), in
e3nn's irreps convention, irreps in the model's own order. It is called once per structure, on
the real atoms in the order the pose gives them; node outputs are padded into ``[B, n_max, D]``
with a mask. Poses, ``g`` and the file are those of the built-in model
(:mod:`invlatent.pipelines.mol3d.encode`).
"""

from __future__ import annotations

import numpy as np

from invlatent.errors import InvlatentError
from invlatent.groups.action import Action
from invlatent.pipelines.mol3d.geometries import Geometries

SIGNATURE = "positions float32 [n, 3] and atomic numbers int64 [n]"


def structure_action(group: str | None) -> Action:
    """The declared output action, refused unless the group acts on 3-D structures."""
    if not group:
        raise InvlatentError("group: a 3-D encoder's output needs its action (e.g. sn*o3:IRREPS)")
    action = Action.parse(group)
    if action.g_kind not in ("rotation", "rotation+perm", "perm") and not action.is_invariant:
        raise InvlatentError(
            f"group {action} does not act on 3-D structures: give sn*o3:IRREPS (node features), "
            "o3:IRREPS or so3:IRREPS (one vector), sn or trivial (invariant features)"
        )
    return action


def load_structure_encoder(path: str, onnx: bool = False):
    """The model at ``path`` as a function ``(positions, numbers) -> numpy array`` (one line
    when it fails)."""
    model = _OnnxStructures(path) if onnx else _torch_model(path)

    def run(pos: np.ndarray, numbers: np.ndarray) -> np.ndarray:
        try:
            return model(pos, numbers)
        except InvlatentError:
            raise
        except Exception as e:  # foreign code: any exception is the user's model failing
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
            raise InvlatentError(
                f"{path}: the model failed on a structure of {len(numbers)} atoms: {first} "
                f"(a 3-D encoder takes {SIGNATURE})"
            ) from None

    return run


def _torch_model(path: str):
    import torch

    from invlatent.pipelines.foreign import load_archive

    net = load_archive(path, torch.device("cpu"))

    def call(pos: np.ndarray, numbers: np.ndarray) -> np.ndarray:
        # structures differ in size: TorchScript's profiling executor would re-optimise the graph
        # for every new shape, which costs more than it saves here
        with torch.no_grad(), torch.jit.optimized_execution(False):
            out = net(torch.from_numpy(pos), torch.from_numpy(numbers))
        if not isinstance(out, torch.Tensor):
            raise InvlatentError(
                f"{path}: the model returned {type(out).__name__}, expected one tensor"
            )
        return out.detach().to(torch.float64).cpu().numpy()

    return call


class _OnnxStructures:
    """A two-input ONNX model (positions, numbers) run by onnxruntime on the CPU."""

    def __init__(self, path: str) -> None:
        from invlatent.pipelines.foreign import onnx_session

        self.session = onnx_session(path)
        self.inputs = [i.name for i in self.session.get_inputs()]
        if len(self.inputs) != 2:
            raise InvlatentError(
                f"{path}: the ONNX model takes {len(self.inputs)} inputs; a 3-D encoder takes "
                f"two ({SIGNATURE})"
            )

    def __call__(self, pos: np.ndarray, numbers: np.ndarray) -> np.ndarray:
        out = self.session.run(None, dict(zip(self.inputs, (pos, numbers), strict=True)))[0]
        return np.asarray(out, dtype=np.float64)


def run_structures(fn, geo: Geometries, action: Action, model: str) -> np.ndarray:
    """``fn`` on every structure's real atoms (in slot order), as float64 ``z``: node outputs
    scattered into padded ``[B, n, D]`` slots, graph outputs stacked ``[B, D]``."""
    z = None
    for r in range(len(geo)):
        slots = np.flatnonzero(geo.mask[r])
        pos = np.ascontiguousarray(geo.pos[r, slots], dtype=np.float32)
        out = _checked(fn(pos, geo.species[r, slots].astype(np.int64)), action, model, r, geo)
        if z is None:
            shape = (len(geo), *geo.mask.shape[1:], out.shape[1]) if action.has_nodes else None
            z = np.zeros(shape or (len(geo), out.shape[0]), np.float64)
        if out.shape[-1] != z.shape[-1]:
            raise InvlatentError(
                f"{model}: the model returned {out.shape[-1]} features for frame {geo.ids[r]} "
                f"and {z.shape[-1]} for the first"
            )
        if action.has_nodes:
            z[r, slots] = out
        else:
            z[r] = out
    return z


def _checked(out: np.ndarray, action: Action, model: str, r: int, geo: Geometries) -> np.ndarray:
    """The output of one structure, refused (one line) unless it fits the declared action."""
    n = int(geo.mask[r].sum())
    if action.has_nodes:
        fits = out.ndim == 2 and out.shape[0] == n
        problem = action.shape_problem((1, n, out.shape[-1])) if fits else f"[{n}, D] per frame"
    else:
        problem = action.shape_problem((1, out.shape[0])) if out.ndim == 1 else "[D] per frame"
    if problem:
        problem = f"--group {action} needs {problem}" if problem.endswith("frame") else problem
        raise InvlatentError(
            f"{model}: the model returned {list(out.shape)} for frame {geo.ids[r]} ({n} atoms); "
            + problem
        )
    if not np.isfinite(out).all():
        raise InvlatentError(f"{model}: the model returned NaN or Inf for frame {geo.ids[r]}")
    return out
