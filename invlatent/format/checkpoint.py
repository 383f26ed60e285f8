"""Model checkpoints: safetensors weights plus a JSON config, loadable without executing pickle.

A checkpoint is one safetensors file (conventionally named ``model.pt``) whose tensors are the
model's ``state_dict`` and whose metadata key ``invlatent_model`` holds the JSON config needed
to rebuild the model (architecture, group, preprocessing, training history).
"""

from __future__ import annotations

import json
import os

import numpy as np

from invlatent.errors import InvlatentError
from invlatent.format import safetensors_io as sio
from invlatent.format.latentfile import write_atomic

CONFIG_KEY = "invlatent_model"


def save_checkpoint(path: str, state: dict[str, np.ndarray], config: dict) -> None:
    """Write weights (numpy arrays) and config atomically to ``path``."""
    meta = {CONFIG_KEY: json.dumps(config, sort_keys=True)}
    write_atomic(sio.dumps(state, meta), path)


def load_checkpoint(path: str) -> tuple[dict[str, np.ndarray], dict]:
    """Read weights and config; refuses files that are not invlatent checkpoints."""
    if not os.path.exists(path):
        raise InvlatentError(f"{path}: no such file")
    try:
        header, buf = sio.map_file(path)
    except sio.SafetensorsError as e:
        raise InvlatentError(f"{path}: not an invlatent model checkpoint ({e})") from None
    if CONFIG_KEY not in header.metadata:
        raise InvlatentError(
            f"{path}: not an invlatent model checkpoint (no {CONFIG_KEY!r} config)"
        )
    try:
        config = json.loads(header.metadata[CONFIG_KEY])
    except json.JSONDecodeError:
        raise InvlatentError(f"{path}: the model config is not valid JSON") from None
    state = {name: np.array(sio.tensor_view(header, buf, name)) for name in header.tensors}
    return state, config


def read_config(path: str) -> dict:
    """Only the config of a checkpoint (cheap: the weights are not read)."""
    return load_checkpoint(path)[1]
