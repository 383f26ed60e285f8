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

NUMPY_IS_ARRAY_API = int(np.__version__.split(".")[0]) >= 2


def namespace(*arrays):
    """The array API namespace of the arrays given (None entries are ignored): numpy itself for
    numpy >= 2 arrays (array_api_compat's numpy wrapper imports numpy.testing, f2py and more:
    0.3 s of start-up for every small ``project``), array_api_compat's otherwise."""
    arrays = [a for a in arrays if a is not None]
    if NUMPY_IS_ARRAY_API and all(isinstance(a, np.ndarray) for a in arrays):
        return np
    return array_api_compat.array_namespace(*arrays)


def is_numpy(x) -> bool:
    """Whether ``x`` is a numpy array (the CLI's path)."""
    return isinstance(x, np.ndarray)


def to_numpy(x) -> np.ndarray:
    """A numpy view or copy of ``x`` without gradient (for discrete decisions)."""
    return x if isinstance(x, np.ndarray) else x.detach().cpu().numpy()


def asarray(values, like):
    """``values`` (numpy, or a constant) as an array of ``like``'s namespace and device."""
    if isinstance(like, np.ndarray):
        return np.asarray(values)
    return namespace(like).asarray(values, device=array_api_compat.device(like))


def constant(values, like):
    """``values`` (numpy) as an array of ``like``'s namespace, device and float type."""
    if isinstance(like, np.ndarray):
        return np.asarray(values, dtype=like.dtype)
    return namespace(like).asarray(values, dtype=like.dtype, device=array_api_compat.device(like))


def take(x, index, axis: int):
    """``x`` taken at the integer ``index`` (numpy) along ``axis``, in x's namespace."""
    xp = namespace(x)
    return xp.take(x, asarray(np.asarray(index, dtype=np.int64), x), axis=axis)
