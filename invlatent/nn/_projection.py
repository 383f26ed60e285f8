"""``Projection``: an invariant projection of the registry as a torch module."""

from __future__ import annotations

import torch

from invlatent.errors import InvlatentError
from invlatent.projections import (
    Params,
    as_action,
    check_options,
    get_method,
    methods_for,
    project_with_extras,
)


class Projection(torch.nn.Module):
    """``forward(z, mask=None)`` is the projection π(z) (B, D) of ``method`` for ``action``.

    Differentiable methods (``differentiable`` in the registry: pools, sorts, norms, power,
    regular bispectrum) run the registry's own array API code on the tensor, on its device,
    with autograd; the others run the CLI's numpy code on a detached copy and refuse a tensor
    that requires grad. float64 stays float64; other floats compute in float32.
    """

    def __init__(self, action, method: str, *, dim=None, seed: int = 0, key_channel=None):
        super().__init__()
        self.action = as_action(action)
        self.info = get_method(self.action, method)
        self.options = {"dim": dim, "seed": int(seed), "key_channel": key_channel}

    def extra_repr(self) -> str:
        return f"action={self.action}, method={self.info.name}"

    def forward(self, z: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """π(z) as a tensor of z's float type (float32 or float64) on z's device."""
        z, mask = self._checked(z, mask)
        if self.info.differentiable:
            params = Params(tuple(z.shape[1:]), **self.options)
            return self.info.fn(self.action, z, mask, params)[0].to(z.dtype)
        if z.requires_grad and torch.is_grad_enabled():
            usable = [m for m in methods_for(self.action) if _differentiable(self.action, m)]
            raise InvlatentError(
                f"method {self.info.name} is not differentiable (it picks a discrete element or "
                f"template): detach z, or choose one of: {', '.join(usable) or 'none'}"
            )
        mask_np = None if mask is None else mask.detach().cpu().numpy()
        out, _ = project_with_extras(
            self.action, z.detach().cpu().numpy(), mask_np, method=self.info.name, **self.options
        )
        return torch.from_numpy(out).to(device=z.device, dtype=z.dtype)

    def _checked(self, z, mask):
        """z as float32/float64 and mask as bool, or one error naming the argument."""
        if not isinstance(z, torch.Tensor):
            raise InvlatentError(f"z: expected a torch tensor, got {type(z).__name__}")
        if not (z.is_floating_point() or z.dtype in _INTEGERS):
            raise InvlatentError(f"z: dtype {z.dtype} is not supported: expected real numbers")
        z = z if z.dtype == torch.float64 else z.to(torch.float32)
        problem = self.action.shape_problem(tuple(z.shape))
        if problem:
            raise InvlatentError(f"z: {problem}")
        if mask is not None:
            if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
                raise InvlatentError("mask: expected a torch tensor of dtype bool")
            mask = mask.to(z.device)
        params = Params(tuple(z.shape[1:]), **self.options)
        check_options(self.action, self.info, tuple(z.shape), mask, params)
        return z, mask


_INTEGERS = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)


def _differentiable(action, name: str) -> bool:
    return get_method(action, name).differentiable
