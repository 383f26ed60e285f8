"""Summaries of latent files for ``invlatent inspect``: header facts only, never the data."""

from __future__ import annotations

import os

from invlatent.format import safetensors_io as sio
from invlatent.format import shards
from invlatent.format.latentfile import (
    BLOCK,
    FORMAT,
    LatentFile,
    binary_stdin,
    describe,
    from_header,
    read,
    validate,
    wrap_errors,
)


def summarise(source: str) -> dict:
    """Shapes, dtypes, action, targets and history of one file, as a JSON-ready dict."""
    if source == "-":
        lf, size = read_stream_header(binary_stdin(), "<stdin>")
        return summary_of(lf, source, size)
    if shards.is_sharded(source):
        ds = shards.open_dataset(source)
        size = sum(os.path.getsize(f) for f in ds.shards)
        return {**summary_of(shards.shell(ds), source, size), "shards": len(ds.shards)}
    return summary_of(read(source, allow_nonfinite=True), source)


def read_stream_header(stream, name: str) -> tuple[LatentFile, int]:
    """The shape-only latent file of a stream and its length: the header is parsed, the data
    read in blocks and counted (never held), so a pipe of any size is inspected in bounded
    memory."""
    prefix = wrap_errors(name, sio.read_stream_header, stream)
    size = len(prefix)
    while block := stream.read(BLOCK):
        size += len(block)
    header = wrap_errors(name, sio.parse_header, prefix, size)
    lf = from_header(header, None, name)
    validate(lf, name, data=False)
    return lf, size


def summary_of(lf: LatentFile, source: str, size: int | None = None) -> dict:
    """The summary of an already-read latent file."""
    if size is None:  # the bytes read (a FIFO's size on disk is 0)
        size = len(lf.source_bytes) if lf.source_bytes is not None else os.path.getsize(source)
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
        f"{summary['file']}  ({summary['size_bytes']:,} bytes, {summary['format']}"
        + (f", {summary['shards']} shards)" if "shards" in summary else ")"),
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
