"""Projecting a latent file in memory: the projected array in the method's output layout, the
input's other tensors and metadata, and the step appended to the history."""

from __future__ import annotations

from invlatent.format.latentfile import input_hash, make_step, require_finite
from invlatent.projections import get_method, project_with_extras

__all__ = ["project_latents", "projected_file"]


def project_latents(
    lf, method: str, *, dim=None, seed: int = 0, key_channel=None, source: str = "-"
):
    """A projected latent file with the step appended to the history: action ``trivial``, or
    the pooled ``cN``/``dN`` fields ``[B, F, |G|]`` of an equivariant method."""
    out, extras = project_with_extras(
        lf.action, lf.z, lf.mask, method=method, dim=dim, seed=seed, key_channel=key_channel
    )
    require_finite(out, f"{source}: the projection {method}")
    options = {"method": method, "dim": dim, "key_channel": key_channel, "seed": seed}
    return projected_file(lf, out, extras, options, source, input_hash(lf))


def projected_file(lf, out, extras: dict, options: dict, source: str, sha256: str):
    """The output file of a projection: ``out`` (B, D) in the method's output layout, the extra
    tensors, the input's other tensors and metadata, and the history step (also used by the
    streaming writer, with shape-only arrays)."""
    method, seed = options["method"], options.get("seed", 0)
    action = get_method(lf.action, method).output_action(lf.action)
    if not action.is_invariant:
        out = out.reshape(len(out), -1, action.group_size)
    opts = {k: options.get(k) for k in ("method", "dim", "key_channel")}
    step = make_step("project", opts, inputs=[(source, sha256)], seed=seed)
    return lf.with_step(
        step,
        z=out,
        action=action,
        mask=None,
        g_kind=(lf.g_kind or lf.action.g_kind) if lf.g is not None else None,
        extra={**lf.extra, **extras},
        meta={**lf.meta, "source_action": lf.meta.get("source_action", str(lf.action))},
    )
