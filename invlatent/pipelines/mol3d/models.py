"""Building the 3-D networks from their JSON config, loading checkpoints, and batched inference."""

from __future__ import annotations

import numpy as np
import torch

from invlatent.errors import InvlatentError
from invlatent.format.checkpoint import load_checkpoint
from invlatent.pipelines.mol3d.geometries import SYMBOLS, Geometries


def build_model(cfg: dict) -> torch.nn.Module:
    """A fresh network of the architecture ``cfg["arch"]`` (``e3nn`` or ``plain``)."""
    if cfg.get("arch") == "e3nn":
        from invlatent.pipelines.mol3d.model import Mol3dNet

        return Mol3dNet(cfg)
    if cfg.get("arch") == "plain":
        from invlatent.pipelines.mol3d.plain import PlainNet

        return PlainNet(cfg)
    raise InvlatentError(f"unknown 3-D model architecture {cfg.get('arch')!r} in the config")


def load_model(path: str) -> tuple[torch.nn.Module, dict]:
    """Rebuild a trained 3-D network (eval mode, float32, cpu) and its checkpoint config."""
    state, config = load_checkpoint(path)
    if config.get("family") != "mol3d":
        raise InvlatentError(f"{path}: not a 3-D molecule model (family {config.get('family')!r})")
    net = build_model(config["model"])
    try:
        net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    except RuntimeError as e:
        first = str(e).splitlines()[0]
        raise InvlatentError(f"{path}: weights do not match the config ({first})") from None
    return net.eval(), config


def check_species(geo: Geometries, species: list[int], data: str) -> None:
    """Refuse elements the model never saw (it has no embedding for them)."""
    unknown = sorted(set(np.unique(geo.species[geo.mask]).tolist()) - set(species))
    if unknown:
        names = ", ".join(SYMBOLS[z] for z in unknown)
        known = ", ".join(SYMBOLS[z] for z in species)
        raise InvlatentError(
            f"{data}: elements {names} are unknown to this model (it knows {known})"
        )


def run(
    net, pos: np.ndarray, species: np.ndarray, mask: np.ndarray, keys, batch_size: int = 256
) -> dict[str, np.ndarray]:
    """Outputs ``keys`` of ``net`` over a padded batch, in chunks, written into float32 arrays
    allocated once (no list of chunks and concatenated copy: half the peak memory)."""
    out: dict[str, np.ndarray] = {}
    with torch.no_grad():
        for s in range(0, len(pos), batch_size):
            sl = slice(s, s + batch_size)
            t = (torch.from_numpy(a[sl]) for a in (pos, species, mask))
            res = net(*t)
            for k in keys:
                if k not in out:
                    out[k] = np.empty((len(pos), *res[k].shape[1:]), np.float32)
                out[k][sl] = res[k].numpy()
    return out
