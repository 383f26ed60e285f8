"""One implementation per method for numpy arrays and torch tensors: the Python array API.

The differentiable methods are written against the namespace of their input
(``array_api_compat``, as scikit-learn does): numpy for the CLI and ``invlatent.project``,
torch (any device, with autograd) for ``invlatent.nn.Projection``. Discrete decisions (a sort
order, the order of a pair) may be taken on a detached numpy copy and applied in the input's
namespace: they carry no gradient.
"""

from __future__ import annotations

import array_api_compat
import numpy as np


def namespace(*arrays):
    """The array API namespace of the arrays given (None entries are ignored)."""
    return array_api_compat.array_namespace(*[a for a in arrays if a is not None])


def is_numpy(x) -> bool:
    """Whether ``x`` is a numpy array (the CLI's path)."""
    return isinstance(x, np.ndarray)


def to_numpy(x) -> np.ndarray:
    """A numpy view or copy of ``x`` without gradient (for discrete decisions)."""
    return x if isinstance(x, np.ndarray) else x.detach().cpu().numpy()


def asarray(values, like):
    """``values`` (numpy, or a constant) as an array of ``like``'s namespace and device."""
    xp = namespace(like)
    return xp.asarray(values, device=array_api_compat.device(like))


def take(x, index, axis: int):
    """``x`` taken at the integer ``index`` (numpy) along ``axis``, in x's namespace."""
    xp = namespace(x)
    return xp.take(x, asarray(np.asarray(index, dtype=np.int64), x), axis=axis)
