"""``project``, ``methods`` and ``guarantees`` on arrays in memory: numpy in, numpy out (float32,
the CLI's bytes); a torch tensor in, a float32 tensor with the same values out on its device."""

from __future__ import annotations

import numpy as np

from invlatent.errors import InvlatentError
from invlatent.format.latentfile import all_finite
from invlatent.projections import get_method, methods_for, project_array
from invlatent.projections import guarantees as _guarantees
from invlatent.projections.actions import as_action


def methods(action) -> list[str]:
    """The projection methods that apply to ``action``, in registry order."""
    return methods_for(as_action(action))


def guarantees(action, method: str | None = None):
    """The declared guarantees of ``method`` for ``action`` (a dict, as ``project --list
    --json`` prints it), or of every method (a list of dicts) when ``method`` is None."""
    action = as_action(action)
    if method is None:
        return _guarantees(action)
    return get_method(action, method).guarantees()


def project(z, action, method: str, *, mask=None, seed: int = 0, dim=None, key_channel=None):
    """The invariant projection π(z) of a batch ``z`` (B, ...) as float32 (B, D): the bytes
    ``invlatent project`` writes for the same rows. A torch tensor gives a tensor on its
    device; one that requires grad goes through ``invlatent.nn.Projection`` (differentiable)."""
    action = as_action(action)
    opts = {"method": method, "seed": seed, "dim": dim, "key_channel": key_channel}
    if _is_tensor(z):
        return _project_tensor(z, action, mask, opts)
    return project_array(action, _checked(z, action), _mask(mask), **opts)


def _project_tensor(z, action, mask, opts):
    if z.requires_grad:
        from invlatent.nn import Projection

        module = Projection(action, opts.pop("method"), **opts)
        return module(z, mask)
    zn = _checked(z.detach().cpu().numpy(), action)
    mn = None if mask is None else _mask(mask.detach().cpu().numpy())
    import torch

    return torch.from_numpy(project_array(action, zn, mn, **opts)).to(z.device)


def _is_tensor(x) -> bool:
    return type(x).__module__.split(".")[0] == "torch" and hasattr(x, "detach")


def _checked(z, action) -> np.ndarray:
    """``z`` if it is a real array of finite values shaped for ``action``, else one error."""
    if not isinstance(z, np.ndarray):
        raise InvlatentError(f"z: expected a numpy array or a torch tensor, got {type(z).__name__}")
    if z.dtype.kind not in "fiu":
        raise InvlatentError(f"z: dtype {z.dtype} is not supported: expected real numbers")
    problem = action.shape_problem(tuple(z.shape))
    if problem:
        raise InvlatentError(f"z: {problem}")
    if not all_finite(z):
        raise InvlatentError("z: holds NaN or infinite values")
    return z


def _mask(mask):
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.dtype != bool:
        raise InvlatentError(f"mask: dtype {mask.dtype} is not supported: expected bool")
    return mask
