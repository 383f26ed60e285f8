"""invlatent: analyse the latents of equivariant networks through invariant projections.

The API is loaded on first use (PEP 562 ``__getattr__``), so ``import invlatent`` and the CLI's
``--help`` do not pay for numpy's, torch's or scikit-learn's import. ``docs/api.md`` shows each
name at work.
"""

from importlib import import_module

__version__ = "0.1.0"

# name -> module that defines it
_API = {
    "load": "invlatent.api",
    "save": "invlatent.api",
    "project": "invlatent.api",
    "methods": "invlatent.api",
    "guarantees": "invlatent.api",
    "check": "invlatent.api",
    "probe": "invlatent.api",
    "recommend": "invlatent.api",
    "as_action": "invlatent.api",
    "LatentFile": "invlatent.format.latentfile",
    "Action": "invlatent.groups.action",
    "InvlatentError": "invlatent.errors",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    """Load an API name's module on first use and cache the name in the package."""
    if name not in _API:
        raise AttributeError(f"module 'invlatent' has no attribute {name!r}")
    value = getattr(import_module(_API[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
