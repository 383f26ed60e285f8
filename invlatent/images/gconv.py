"""Group-convolution layers for C_N and D_N on the pixel grid, in plain torch.

Feature maps of a group CNN have shape ``(B, F, G, H, W)``: F fields, each a function on the G
group elements (index ``i = m·N + k`` for ``r^k f^m``, the encoding of ``invlatent.groups``)
and the plane. The group acts by transforming the plane and shifting the group axis,
``(u·f)(g, p) = f(u⁻¹g, u⁻¹p)``, the regular representation of ``invlatent.groups.act``.

Filters are transformed by a fixed matrix per group element (``rotate.transform_matrix``): for
multiples of 90° and for the reflection that matrix is a permutation, so C4 and D4 layers are
exactly equivariant; other rotations interpolate bilinearly and are only approximately so.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from invlatent.action import Action
from invlatent.groups import regular_permutations
from invlatent.images.rotate import transform_matrix


def group_elements(action: Action) -> list[tuple[float, bool]]:
    """(angle, flip) of each element of ``cN``/``dN`` in index order ``i = m·N + k``."""
    n = action.order
    flips = (False, True) if action.kind == "dihedral" else (False,)
    return [(2 * math.pi * k / n, m) for m in flips for k in range(n)]


def filter_transforms(action: Action, size: int) -> torch.Tensor:
    """Matrices ``(G, size², size²)`` transforming a flattened filter by each group element."""
    mats = [transform_matrix(size, a, f) for a, f in group_elements(action)]
    return torch.from_numpy(np.stack(mats).astype(np.float32))


def _init(weight: torch.Tensor, fan_in: int) -> None:
    nn.init.normal_(weight, std=math.sqrt(2.0 / fan_in))


class LiftingConv(nn.Module):
    """Plane → group: ``out(g) = corr(x, g·ψ)``; ``(B, C, H, W)`` → ``(B, F, G, H, W)``."""

    def __init__(self, action: Action, in_channels: int, fields: int, kernel: int) -> None:
        super().__init__()
        self.action, self.kernel, self.fields = action, kernel, fields
        self.weight = nn.Parameter(torch.empty(fields, in_channels, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(fields))
        self.register_buffer("transforms", filter_transforms(action, kernel), persistent=False)
        _init(self.weight, in_channels * kernel * kernel)

    def filters(self) -> torch.Tensor:
        """The transformed filter bank ``(F·G, C, k, k)``."""
        f, c, k, _ = self.weight.shape
        w = torch.einsum("gpq,fcq->fgcp", self.transforms, self.weight.reshape(f, c, k * k))
        return w.reshape(f * self.transforms.shape[0], c, k, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = self.transforms.shape[0]
        y = F.conv2d(x, self.filters(), self.bias.repeat_interleave(g), padding=self.kernel // 2)
        return y.reshape(x.shape[0], self.fields, g, *y.shape[-2:])


class GroupConv(nn.Module):
    """Group → group: ``out(g) = Σ_h corr(x(h), g·ψ(g⁻¹h))``; F fields in, F' fields out."""

    def __init__(self, action: Action, in_fields: int, fields: int, kernel: int) -> None:
        super().__init__()
        self.action, self.kernel, self.fields = action, kernel, fields
        g = action.group_size
        self.weight = nn.Parameter(torch.empty(fields, in_fields, g, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(fields))
        self.register_buffer("transforms", filter_transforms(action, kernel), persistent=False)
        # regular_permutations[g, h] = index(g⁻¹ h): which filter slice meets input element h
        self.register_buffer(
            "relative",
            torch.from_numpy(regular_permutations(action).astype(np.int64)),
            persistent=False,
        )
        _init(self.weight, in_fields * g * kernel * kernel)

    def filters(self) -> torch.Tensor:
        """The transformed filter bank ``(F'·G, F·G, k, k)``."""
        f, c, g, k, _ = self.weight.shape
        w = self.weight.reshape(f, c, g, k * k)[:, :, self.relative]  # (f, c, g_out, h, k²)
        w = torch.einsum("gpq,fcghq->fgchp", self.transforms, w)
        return w.reshape(f * g, c * g, k, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, g, h, w = x.shape
        y = F.conv2d(
            x.reshape(b, c * g, h, w),
            self.filters(),
            self.bias.repeat_interleave(g),
            padding=self.kernel // 2,
        )
        return y.reshape(b, self.fields, g, *y.shape[-2:])


class FieldNorm(nn.BatchNorm3d):
    """Batch norm with one mean, variance, scale and shift per field (shared by its G entries)."""


def spatial_max_pool(x: torch.Tensor) -> torch.Tensor:
    """2×2 max pooling of ``(B, F, G, H, W)`` maps; exact under 90° rotations for even H, W."""
    b, f, g, h, w = x.shape
    return F.max_pool2d(x.reshape(b, f * g, h, w), 2).reshape(b, f, g, h // 2, w // 2)


def spatial_mean(x: torch.Tensor) -> torch.Tensor:
    """Average over the plane: ``(B, F, G, H, W)`` → ``(B, F, G)``, equivariant regular fields."""
    return x.mean(dim=(-2, -1))


def group_max(z: torch.Tensor) -> torch.Tensor:
    """Max over the group axis: ``(B, F, G)`` → ``(B, F)``, invariant features."""
    return z.amax(dim=2)
