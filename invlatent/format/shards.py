"""Sharded data sets: a folder of latent files, or a ``dataset.json`` manifest naming them.

A data set is one input for every reading command. All shards must agree (action, tensor names,
dtypes, shapes after the batch axis, target names, ``g_kind``) and exist with the row counts the
manifest gives; this is checked from the headers alone, before any work. The rows of the data set
are the shards' rows in manifest order (folder: file-name order). ``docs/format.md`` §9 describes
the manifest.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, replace

import numpy as np

from invlatent.errors import InvlatentError
from invlatent.format import latentfile as lfm
from invlatent.format import safetensors_io as sio
from invlatent.format.latentfile import LatentFile, LatentFileError
from invlatent.ranks import Context, finish, init

MANIFEST = "dataset.json"
JOIN_IN_MEMORY = 1 << 30  # bytes per tensor; larger data sets are joined on disk
FORMAT = "invlatent-dataset/1"


@dataclass
class Dataset:
    """The shards of a data set (absolute paths, in order), their row counts and shell files."""

    source: str
    shards: list[str]
    rows: list[int]
    shells: list[LatentFile]
    manifest: bytes

    @property
    def action(self):
        return self.shells[0].action

    @property
    def identity(self) -> bytes:
        """The bytes of the data set's SHA-256 in histories: its manifest, or for a folder without
        one the shards' names and row counts (the same wherever the folder lies)."""
        if self.manifest:
            return self.manifest
        names = [os.path.basename(f) for f in self.shards]
        listing = [{"file": f, "rows": n} for f, n in zip(names, self.rows, strict=True)]
        return json.dumps(listing, sort_keys=True).encode()


def is_sharded(source: str) -> bool:
    """True for a folder or a ``.json`` manifest (a data set), False for one latent file."""
    return source != "-" and (os.path.isdir(source) or source.endswith(".json"))


def open_dataset(source: str) -> Dataset:
    """Find the shards of ``source`` and check that they agree, reading headers only."""
    if os.path.isdir(source) and not os.path.exists(os.path.join(source, MANIFEST)):
        files = sorted(glob.glob(os.path.join(source, "*.st")))
        if not files:
            raise LatentFileError(f"{source}: the folder holds no .st latent files")
        shells = [_shell(f) for f in files]
        ds = Dataset(source, files, [len(s) for s in shells], shells, b"")
        _check_agree(ds)
        return ds
    path = os.path.join(source, MANIFEST) if os.path.isdir(source) else source
    lfm.check_path(path)
    with open(path, "rb") as f:
        raw = f.read()
    files, rows = _parse_manifest(raw, path)
    shells = [_shell(f) for f in files]
    for f, n, s in zip(files, rows, shells, strict=True):
        if len(s) != n:
            raise LatentFileError(f"{path}: shard {os.path.basename(f)} has {len(s)} rows, "
                                  f"the manifest says {n}")  # fmt: skip
    ds = Dataset(path, files, rows, shells, raw)
    _check_agree(ds)
    return ds


def read_dataset(source: str, *, allow_nonfinite: bool = False) -> LatentFile:
    """All rows of a data set as one latent file (the shards' tensors joined in memory)."""
    ds = open_dataset(source)
    parts = [lfm.read(f, allow_nonfinite=allow_nonfinite) for f in ds.shards]
    first = parts[0]
    joined = {name: _join([p.tensors()[name] for p in parts], ds.rows) for name in first.tensors()}
    known = {k: joined.pop(k, None) for k in lfm.KNOWN_TENSORS}
    out = LatentFile(
        action=first.action,
        target_names=list(first.target_names),
        g_kind=first.g_kind,
        extra=joined,
        history=first.history,
        meta=dict(first.meta),
        **known,
    )
    out.source_bytes = ds.identity
    return out


def _join(arrays: list[np.ndarray], rows: list[int]) -> np.ndarray:
    """One tensor's rows over all shards: in memory up to ``JOIN_IN_MEMORY`` bytes, else in an
    unnamed temporary file, memory-mapped (disk, not memory), filled block by block. A tensor
    without a row per sample (no batch axis) is the first shard's."""
    if any(a.ndim == 0 or len(a) != n for a, n in zip(arrays, rows, strict=True)):
        return arrays[0]
    shape = (sum(rows), *arrays[0].shape[1:])
    if int(np.prod(shape, dtype=np.int64)) * arrays[0].dtype.itemsize <= JOIN_IN_MEMORY:
        return np.concatenate(arrays)
    out = np.memmap(tempfile.TemporaryFile(), dtype=arrays[0].dtype, mode="w+", shape=shape)
    start = 0
    for a in arrays:
        step = max(1, lfm.BLOCK // max(1, a[:1].nbytes))
        for i in range(0, len(a), step):
            block = a[i : i + step]
            out[start + i : start + i + len(block)] = block
        start += len(a)
    return out


def shell(ds: Dataset) -> LatentFile:
    """A shape-only latent file standing for the whole data set (for ``inspect``)."""
    first, b = ds.shells[0], sum(ds.rows)
    grow = lambda a: lfm.shell(a.dtype, (b, *a.shape[1:]))  # noqa: E731
    known = {k: getattr(first, k) for k in lfm.KNOWN_TENSORS}
    known = {k: None if v is None else grow(v) for k, v in known.items()}
    extra = {k: grow(v) for k, v in first.extra.items()}
    return replace(first, extra=extra, **known)


def check_new_folder(dest: str) -> None:
    """Refuse an output data set folder that is not a folder (a file, a device, a link to
    nowhere) or is a folder with content."""
    if os.path.lexists(dest) and (not os.path.isdir(dest) or os.listdir(dest)):
        raise LatentFileError(f"{dest}: exists and is not an empty folder")


def write_manifest(folder: str, files: list[str], rows: list[int], action, history) -> str:
    """Write ``folder/dataset.json`` for shard files (names relative to ``folder``)."""
    body = {
        "format": FORMAT,
        "action": str(action),
        "rows": int(sum(rows)),
        "shards": [{"file": f, "rows": int(n)} for f, n in zip(files, rows, strict=True)],
        "history": history,
    }
    path = os.path.join(folder, MANIFEST)
    lfm.write_atomic([json.dumps(body, indent=1, sort_keys=True).encode() + b"\n"], path)
    return path


def _parse_manifest(raw: bytes, path: str) -> tuple[list[str], list[int]]:
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise LatentFileError(f"{path}: the manifest is not valid JSON") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise LatentFileError(f"{path}: not a data set manifest (format must be {FORMAT!r})")
    shards = body.get("shards")
    if not isinstance(shards, list) or not shards:
        raise LatentFileError(f"{path}: the manifest lists no shards")
    try:
        files = [s["file"] for s in shards]
        rows = [s["rows"] for s in shards]
    except (TypeError, KeyError):
        raise LatentFileError(f"{path}: every shard needs 'file' and 'rows'") from None
    if not all(isinstance(f, str) and f for f in files):
        raise LatentFileError(f"{path}: every shard's 'file' must be a file name")
    if not all(type(n) is int and 0 <= n <= sio.MAX_DIM for n in rows):
        raise LatentFileError(
            f"{path}: every shard's 'rows' must be a whole number from 0 to {sio.MAX_DIM}"
        )
    if sum(rows) != body.get("rows", sum(rows)):
        raise LatentFileError(
            f"{path}: the shards hold {sum(rows)} rows, 'rows' says {body['rows']}"
        )
    folder = os.path.dirname(os.path.abspath(path))
    full = [os.path.join(folder, f) for f in files]
    for f, name in zip(full, files, strict=True):
        if not os.path.isfile(f):
            raise LatentFileError(f"{path}: shard {name} is missing")
    return full, rows


def _shell(path: str) -> LatentFile:
    lf = lfm.from_header(lfm.read_header(path)[0], None, path)
    lfm.validate(lf, path, data=False)
    return lf


def _check_agree(ds: Dataset) -> None:
    """Every shard must match the first in action, tensors, dtypes, row shapes and metadata."""
    first = _signature(ds.shells[0])
    for f, s in zip(ds.shards[1:], ds.shells[1:], strict=True):
        mine = _signature(s)
        for key, want in first.items():
            if mine[key] != want:
                raise LatentFileError(
                    f"{ds.source}: shard {os.path.basename(f)} disagrees with "
                    f"{os.path.basename(ds.shards[0])} on {key}: {mine[key]} vs {want}"
                )


def _signature(lf: LatentFile) -> dict:
    return {
        "action": str(lf.action),
        "tensors": {k: (str(v.dtype), list(v.shape[1:])) for k, v in sorted(lf.tensors().items())},
        "targets": list(lf.target_names),
        "g_kind": lf.g_kind,
    }


def read_input(source: str, *, allow_nonfinite: bool = False) -> LatentFile:
    """A latent file (a path or ``-``) or a sharded data set (a folder or its ``dataset.json``,
    its shards joined): what every command that reads latents accepts."""
    if is_sharded(source):
        return read_dataset(source, allow_nonfinite=allow_nonfinite)
    return lfm.read(source, allow_nonfinite=allow_nonfinite)


def prepare_output(output: str | None, device: str = "cpu") -> Context:
    """Join torchrun's group (if any) and refuse, before any work, an output that cannot take
    one shard per rank."""
    ctx = init(device)
    if ctx.active and output in (None, "-"):
        raise InvlatentError("under torchrun each rank writes a shard: give -o FOLDER")
    return ctx


def write_latents(lf, output: str | None, device: str = "cpu") -> None:
    """Write a latent file; under torchrun this rank's rows go into shard ``part-RANK.st`` of
    folder ``output``, and rank 0 writes its ``dataset.json`` once every shard is complete.

    The shards are written into a hidden folder beside ``output``, renamed when all are there.
    """
    ctx = prepare_output(output, device)
    lfm.require_finite(lf.z, "the encoded latents z")
    if lf.g is not None:
        lfm.require_finite(lf.g, "the group elements g")
    if not ctx.active:
        return lfm.write(lf, output)
    parent, base = os.path.split(os.path.abspath(output))
    tmp = os.path.join(parent, f".{base}.part")
    try:
        if ctx.is_main:
            _fresh_folder(tmp, output)
        ctx.barrier()
        lfm.write(lf, os.path.join(tmp, f"part-{ctx.rank:05d}.st"))
        rows = ctx.gather(len(lf))
        if ctx.is_main:
            names = [f"part-{r:05d}.st" for r in range(ctx.world)]
            write_manifest(tmp, names, rows, lf.action, lf.history)
            os.replace(tmp, output)
        ctx.barrier()
    except BaseException:
        if ctx.is_main:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        finish()


def _fresh_folder(tmp: str, output: str) -> None:
    check_new_folder(output)
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
