"""The Python API behind ``invlatent``'s top-level names (``invlatent/__init__.py`` loads this
package on first use, so ``import invlatent`` stays light)."""

from invlatent.api._actions import as_action
from invlatent.api._files import load, save
from invlatent.api._project import guarantees, methods, project

__all__ = ["as_action", "guarantees", "load", "methods", "project", "save"]
