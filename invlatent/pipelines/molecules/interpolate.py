"""Linear paths between molecules' latents, in raw node order or in the sorted cross section.

For each of K seeded pairs of molecules with the same number of atoms, ``steps`` points
``(1 - t)·z_a + t·z_b`` are decoded. In ``raw`` space nodes are paired by their stored order
(an arbitrary labelling); in ``sorted`` space each latent is first sorted node-wise (real nodes
first, by channel 0), the isometric cross section for d = 1. Reported per space: validity of
decoded points, uniqueness of valid molecules per path, and smoothness as the mean number of
graph edits (changed atom types + changed bonds, a bound on the graph edit distance) between
consecutive decoded points.
"""

from __future__ import annotations

import numpy as np

from invlatent.errors import InvlatentError
from invlatent.groups.action import Action
from invlatent.pipelines.molecules.graphs import Graphs, graphs_to_smiles

SPACES = ("raw", "sorted")


def sort_nodes(z: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort each latent's real nodes by channel 0 (stable), padded nodes last and zero."""
    key = np.where(mask, z[:, :, 0], np.inf)
    perm = np.argsort(key, axis=1, kind="stable")
    zs = np.take_along_axis(z, perm[:, :, None], axis=1)
    ms = np.take_along_axis(mask, perm, axis=1)
    return zs * ms[:, :, None], ms


def choose_pairs(mask: np.ndarray, count: int, seed: int) -> np.ndarray:
    """``count`` seeded pairs (rows a != b) of molecules with equal numbers of atoms."""
    rng = np.random.default_rng(seed)
    sizes = mask.sum(axis=1)
    pairs = []
    for _ in range(100 * count):
        if len(pairs) == count:
            break
        a = int(rng.integers(len(mask)))
        same = np.flatnonzero(sizes == sizes[a])
        same = same[same != a]
        if len(same):
            pairs.append((a, int(rng.choice(same))))
    if len(pairs) < count:
        raise InvlatentError(f"found only {len(pairs)} pairs of molecules with equal atom counts")
    return np.array(pairs, dtype=np.int64)


def paths(z: np.ndarray, mask: np.ndarray, pairs: np.ndarray, steps: int, space: str):
    """Latents (K·steps, n, d) and masks along each pair's straight line in ``space``."""
    if space not in SPACES:
        raise InvlatentError(f"space must be raw, sorted or both, got {space!r}")
    if space == "sorted":
        z, mask = sort_nodes(z, mask)
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[None, :, None, None]
    za, zb = z[pairs[:, 0]][:, None], z[pairs[:, 1]][:, None]
    zt = (1 - t) * za + t * zb
    ma, mb = mask[pairs[:, 0]][:, None], mask[pairs[:, 1]][:, None]
    mt = np.where(t[..., 0] < 0.5, ma, mb)  # raw masks can disagree: switch at the midpoint
    k, n, d = len(pairs), z.shape[1], z.shape[2]
    return zt.reshape(k * steps, n, d), np.broadcast_to(mt, (k, steps, n)).reshape(k * steps, n)


def path_metrics(graphs: Graphs, smiles: list[str | None], k: int, steps: int) -> dict:
    """Validity, uniqueness per path and graph edits between consecutive points."""
    types = np.where(graphs.mask, graphs.types, -1).reshape(k, steps, -1)
    adj = graphs.adj.reshape(k, steps, *graphs.adj.shape[1:])
    edits = (types[:, 1:] != types[:, :-1]).sum(-1) + np.triu(adj[:, 1:] != adj[:, :-1], 1).sum(
        (-1, -2)
    )
    valid = np.array([s is not None for s in smiles]).reshape(k, steps)
    per_path = [smiles[i * steps : (i + 1) * steps] for i in range(k)]
    unique = [len({s for s in p if s}) / steps for p in per_path]
    return {
        "validity": float(valid.mean()),
        "uniqueness": float(np.mean(unique)),
        "edits_per_step": float(edits.mean()),
        "changes_per_path": float((edits > 0).sum(1).mean()),
    }


def interpolate(model, z, mask, *, pairs: int, steps: int, spaces, seed: int, mode: str):
    """Decode K paths in each space; returns {space: (metrics, smiles (K, steps))}."""
    from invlatent.pipelines.molecules.decode import decode_logits

    if pairs < 1 or steps < 2:
        raise InvlatentError(f"need pairs >= 1 and steps >= 2, got {pairs} and {steps}")
    chosen = choose_pairs(mask, pairs, seed)
    out = {}
    for space in spaces:
        zt, mt = paths(z, mask, chosen, steps, space)
        graphs = decode_logits(model, zt, mt, mode)
        smiles = graphs_to_smiles(graphs)
        metrics = path_metrics(graphs, smiles, pairs, steps)
        out[space] = (metrics, [smiles[i * steps : (i + 1) * steps] for i in range(pairs)])
    return chosen, out


def run_interpolation(
    model_path: str,
    latents: str,
    *,
    pairs: int,
    steps: int,
    space: str,
    mode: str,
    seed: int,
    draw: int = 3,
    picture: str | None = None,
) -> dict:
    """Read model and latents, interpolate in the chosen spaces, optionally draw; a JSON report."""
    from invlatent.format.shards import read_input
    from invlatent.pipelines.molecules.decode import check_latent_dim, load_model, node_latents

    spaces = SPACES if space == "both" else (space,)
    if space != "both" and space not in SPACES:
        raise InvlatentError(f"space must be raw, sorted or both, got {space!r}")
    lf = read_input(latents)
    if lf.action != Action("sn"):
        raise InvlatentError(
            f"{latents}: interpolation needs raw node latents (action sn), got {lf.action}"
        )
    vae, config = load_model(model_path)
    z, mask = node_latents(lf)
    check_latent_dim(z, config, latents)
    chosen, results = interpolate(
        vae, z, mask, pairs=pairs, steps=steps, spaces=spaces, seed=seed, mode=mode
    )
    if picture:
        from invlatent.pipelines.molecules.draw import draw_paths

        rows = [(f"{s} {k}", results[s][1][k]) for k in range(min(draw, pairs)) for s in spaces]
        draw_paths(rows, picture)
    ids = chosen if lf.ids is None else np.asarray(lf.ids)[chosen]
    return {
        "pairs": pairs,
        "steps": steps,
        "mode": mode,
        "seed": seed,
        "pair_ids": ids.tolist(),
        "spaces": {s: results[s][0] for s in spaces},
    }
