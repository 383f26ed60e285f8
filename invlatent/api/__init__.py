"""The Python API behind ``invlatent``'s top-level names (``invlatent/__init__.py`` loads this
package on first use, so ``import invlatent`` stays light)."""

from invlatent.api._analysis import as_latent_file, check, probe, recommend
from invlatent.api._files import load, save
from invlatent.api._project import guarantees, methods, project
from invlatent.projections.actions import as_action

__all__ = [
    "as_action",
    "as_latent_file",
    "check",
    "guarantees",
    "load",
    "methods",
    "probe",
    "project",
    "recommend",
    "save",
]
