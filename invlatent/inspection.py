"""Summaries of latent files for ``invlatent inspect``: header facts only, never the data."""

from __future__ import annotations

import os

from invlatent.latentfile import FORMAT, LatentFile, describe, read


def summarise(source: str) -> dict:
    """Shapes, dtypes, action, targets and history of one file, as a JSON-ready dict."""
    lf = read(source, allow_nonfinite=True)
    return summary_of(lf, source)


def summary_of(lf: LatentFile, source: str) -> dict:
    """The summary of an already-read latent file."""
    size = os.path.getsize(source) if source != "-" else len(lf.source_bytes or b"")
    return {
        "file": source,
        "size_bytes": size,
        "format": FORMAT,
        "action": str(lf.action),
        "invariant": lf.action.is_invariant,
        "batch": len(lf),
        "represents": describe(lf),
        "tensors": {
            name: {"dtype": str(arr.dtype), "shape": list(arr.shape)}
            for name, arr in sorted(lf.tensors().items())
        },
        "targets": list(lf.target_names),
        "g_kind": (lf.g_kind or lf.action.g_kind) if lf.g is not None else None,
        "history": lf.history,
        "metadata": dict(sorted(lf.meta.items())),
    }


def render(summary: dict) -> str:
    """The summary as a few aligned lines of text for people."""
    lines = [
        f"{summary['file']}  ({summary['size_bytes']:,} bytes, {summary['format']})",
        f"  action   {summary['action']}" + ("  (invariant)" if summary["invariant"] else ""),
        f"  batch    {summary['batch']:,}",
    ]
    for name, t in summary["tensors"].items():
        lines.append(f"  {name:<8} {t['dtype']:<8} {t['shape']}")
    if summary["targets"]:
        lines.append(f"  targets  {', '.join(summary['targets'])}")
    if summary["g_kind"]:
        lines.append(f"  g_kind   {summary['g_kind']}")
    for key, value in summary["metadata"].items():
        lines.append(f"  {key:<8} {value if len(value) < 70 else value[:67] + '...'}")
    for i, step in enumerate(summary["history"], 1):
        opts = " ".join(f"--{k}={v}" for k, v in step.get("options", {}).items())
        seed = f" seed={step['seed']}" if step.get("seed") is not None else ""
        lines.append(
            f"  step {i}   {step.get('command', '?')} {opts}{seed} (v{step.get('version', '?')})"
        )
    return "\n".join(lines)
