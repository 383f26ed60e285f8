"""``project`` on latent files of any size, in memory bounded by a chunk size.

The input is read with plain positioned reads, never memory-mapped, so resident memory does not
grow with the file; stdin is first copied to an unnamed temporary file (disk, not memory). The
output's header is known before its data: its shapes come from projecting the first row, and the
history's SHA-256 of the input is a fixed-length string. So:

- to a file: one pass over the input, in file order, hashing every byte, checking values chunk by
  chunk, and writing each output chunk at its offset in an unnamed temporary file; the header is
  rewritten with the real hash at the end and the file named only then (nothing is ever left
  behind, also when the process is killed or the disk fills);
- to a stream (stdout, a device such as ``/dev/null``, a FIFO): a first pass hashes and checks
  the input (an error stops before any byte is written), then the header and each output tensor
  follow in order, one projection pass per computed tensor (``z``, plus ``perm`` for ``sort``).

Either way the bytes equal those of ``latentfile.dumps(projected.project_latents(...))``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from invlatent.errors import InvlatentError
from invlatent.format import latentfile as lfm
from invlatent.format import safetensors_io as sio
from invlatent.format import shards
from invlatent.format.latentfile import LatentFile, LatentFileError
from invlatent.format.projected import projected_file
from invlatent.projections import get_method, project_chunks, project_with_extras
from invlatent.ranks import Context, finish

DEFAULT_CHUNK_MB = 64
COPY_BLOCK = 1 << 24
PLACEHOLDER = "0" * 64

Emit = Callable[[str, int, np.ndarray], None]


@dataclass
class Source:
    """A latent file opened for positioned reads; ``lf`` holds shape-only tensors."""

    name: str
    fd: int
    size: int
    header: sio.Header
    lf: LatentFile
    keep: object = None

    def rows(self, name: str, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` of tensor ``name``, read from the file (a fresh array)."""
        info = self.header.tensors[name]
        dtype, row = sio.DTYPES[info.dtype], _row_items(info.shape)
        base = self.header.data_offset + info.start
        nbytes = (stop - start) * row * dtype.itemsize
        raw = _pread(self.fd, nbytes, base + start * row * dtype.itemsize, self.name)
        return np.frombuffer(raw, dtype=dtype).reshape((stop - start, *info.shape[1:]))

    def rows_into(self, name: str, start: int, stop: int, buf: np.ndarray | None):
        """Rows ``start:stop`` of tensor ``name`` read into ``buf`` (grown when too small) and
        the buffer: a buffer reused from chunk to chunk skips the page faults of a fresh one
        (reads 1.4x faster); the rows are valid until the next read into it."""
        info = self.header.tensors[name]
        dtype, row = sio.DTYPES[info.dtype], _row_items(info.shape)
        nbytes = (stop - start) * row * dtype.itemsize
        if buf is None or buf.nbytes < nbytes:
            buf = np.empty(nbytes, dtype=np.uint8)
        offset = self.header.data_offset + info.start + start * row * dtype.itemsize
        _pread_into(self.fd, memoryview(buf)[:nbytes], offset, self.name)
        return buf[:nbytes].view(dtype).reshape((stop - start, *info.shape[1:])), buf

    def prefetch(self, name: str, start: int, stop: int) -> None:
        """Ask the kernel to start reading rows ``start:stop`` of ``name`` now, so that the disk
        works while the current chunk is projected (a no-op where posix_fadvise is missing)."""
        if stop <= start or not hasattr(os, "posix_fadvise"):
            return
        info = self.header.tensors[name]
        row = _row_items(info.shape) * sio.DTYPES[info.dtype].itemsize
        offset = self.header.data_offset + info.start + start * row
        os.posix_fadvise(self.fd, offset, (stop - start) * row, os.POSIX_FADV_WILLNEED)


@dataclass
class Plan:
    """The output: its shell latent file, header bytes and tensor offsets, computed tensors."""

    lf: LatentFile
    options: dict
    computed: tuple[str, ...]
    chunk_rows: int

    def header(self, sha: str) -> tuple[bytes, dict[str, int]]:
        """The output's header (with the input hash ``sha``) and each tensor's byte offset."""
        step = {**self.lf.history[-1], "inputs": [{**self.lf.history[-1]["inputs"][0]}]}
        step["inputs"][0]["sha256"] = sha
        meta = replace(self.lf, history=[*self.lf.history[:-1], step]).metadata()
        specs = {k: (v.dtype, v.shape) for k, v in self.lf.tensors().items()}
        return sio.header_bytes(specs, meta)


def open_source(src: str) -> Source:
    """Open a path, or spool stdin (``-``) or a FIFO to disk, and check its header and shapes."""
    path, keep = lfm.input_path(src)  # stdin and FIFOs are spooled to disk
    name = "<stdin>" if src == "-" else src
    fd = os.open(path, os.O_RDONLY) if keep is None else keep.fileno()
    size = os.fstat(fd).st_size
    with os.fdopen(os.dup(fd), "rb") as f:
        header = lfm.wrap_errors(name, sio.read_header, f, size)
    lf = lfm.from_header(header, None, name)
    lfm.validate(lf, name, data=False)
    return Source(name, fd, size, header, lf, keep)


def close_source(source: Source) -> None:
    """Release the file (and the spooled copy of stdin)."""
    if source.keep is None:
        os.close(source.fd)
    else:
        source.keep.close()


def plan(source: Source, method: str, *, dim, seed, key_channel, chunk_mb: int, label: str):
    """The output file's layout, from projecting the first row (checks every option too)."""
    lf = source.lf
    z1 = source.rows("z", 0, 1)
    m1 = source.rows("mask", 0, 1) if lf.mask is not None else None
    opts = {"method": method, "dim": dim, "seed": seed, "key_channel": key_channel}
    out1, ex1 = project_with_extras(lf.action, z1, m1, **opts)
    b = len(lf)
    z = lfm.shell(np.float32, (b, out1.shape[1]))
    extras = {k: lfm.shell(v.dtype, (b, *v.shape[1:])) for k, v in ex1.items()}
    out = projected_file(lf, z, extras, opts, label, PLACEHOLDER)
    lfm.validate(out, "<output>", data=False)
    row_bytes = max(1, _row_items(lf.z.shape) * 4 + out1.shape[1] * 4)
    rows = max(1, (chunk_mb << 20) // row_bytes)
    return Plan(out, opts, ("z", *sorted(extras)), rows)


def project_file(
    src: str, dest: str | None, method: str, *, chunk_mb=DEFAULT_CHUNK_MB, label=None, **opts
):
    """Project ``src`` (path or ``-``) into ``dest`` (path, or stdout for None/``-``)."""
    source = open_source(src)
    try:
        p = plan(source, method, chunk_mb=chunk_mb, label=label or src, **opts)
        if lfm.is_stream(dest):
            _to_stream(source, p, dest)
        else:
            _to_file(source, p, dest)
    finally:
        close_source(source)


def project_dataset(src: str, dest: str | None, method: str, **kw) -> list[str]:
    """Project every shard of a data set into folder ``dest``, with its own manifest.

    The shards are written into a hidden folder beside ``dest``, renamed to ``dest`` at the end
    (which must not exist, or be an empty folder); an error removes the hidden folder. Under
    torchrun, rank r projects shards r, r + N, … into one shared hidden folder and rank 0 writes
    the manifest once every rank is done: the same folder, byte for byte, as one process.
    """
    if dest in (None, "-"):
        raise InvlatentError(f"{src}: a sharded data set is projected into a folder: use -o DIR")
    ds = shards.open_dataset(src)
    shards.check_new_folder(dest)
    parent = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(parent):
        raise InvlatentError(f"{dest}: folder {parent} does not exist")
    ctx = shards.prepare_output(dest)
    try:
        return _project_shards(ds, dest, parent, ctx, method, kw)
    finally:
        if ctx.active:
            finish()


def _project_shards(ds, dest: str, parent: str, ctx: Context, method: str, kw: dict) -> list[str]:
    """This rank's shards into the hidden folder; rank 0 names it ``dest`` when all are there."""
    tmp = _hidden_folder(ctx, dest, parent)
    try:
        names = [os.path.basename(f) for f in ds.shards]
        for i, (shard, name) in enumerate(zip(ds.shards, names, strict=True)):
            if i % ctx.world == ctx.rank:
                project_file(shard, os.path.join(tmp, name), method, label=name, **kw)
        ctx.barrier()
        manifests = [_finish_folder(ds, tmp, dest, names, method, kw)] if ctx.is_main else []
        ctx.barrier()
    except BaseException:
        if ctx.is_main:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifests


def _hidden_folder(ctx: Context, dest: str, parent: str) -> str:
    """A fresh hidden folder beside ``dest``: a unique one for one process, one shared name
    (made by rank 0) under torchrun."""
    base = os.path.basename(dest)
    if not ctx.active:
        return tempfile.mkdtemp(prefix=f".{base}.", suffix=".part", dir=parent)
    tmp = os.path.join(parent, f".{base}.part")
    if ctx.is_main:
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
    ctx.barrier()
    return tmp


def _finish_folder(ds, tmp: str, dest: str, names: list[str], method: str, kw: dict) -> str:
    """Write the manifest (with the project step in its history) and rename the folder."""
    opts = {k: v for k, v in kw.items() if k in ("dim", "key_channel")}
    step = lfm.make_step(
        "project",
        {"method": method, **opts},
        inputs=[(os.path.basename(ds.source), lfm.sha256_of(ds.identity))],
        seed=kw.get("seed"),
    )
    action = get_method(ds.action, method).output_action(ds.action)
    history = [*ds.shells[0].history, step]
    manifest = shards.write_manifest(tmp, names, ds.rows, action, history)
    os.chmod(tmp, 0o777 & ~lfm.umask())
    os.replace(tmp, dest)
    return manifest


def _to_file(source: Source, p: Plan, dest: str) -> None:
    offsets = p.header(PLACEHOLDER)[1]
    row_bytes = {k: _row_items(v.shape) * v.dtype.itemsize for k, v in p.lf.tensors().items()}
    with lfm.atomic_output(dest) as f:
        fd = f.fileno()
        os.ftruncate(fd, _end(p, offsets))

        def emit(name: str, start: int, arr: np.ndarray) -> None:
            _pwrite(fd, _le_bytes(arr), offsets[name] + start * row_bytes[name])

        sha = _walk(source, p, emit)
        _pwrite(fd, p.header(sha)[0], 0)


def _to_stream(source: Source, p: Plan, dest: str | None) -> None:
    sha = _walk(source, p, None)
    head, offsets = p.header(sha)
    with lfm.output_stream(dest) as out:
        out.write(head)
        for name in sorted(offsets, key=offsets.get):

            def emit(n: str, start: int, arr: np.ndarray, name=name) -> None:
                if n == name:
                    out.write(_le_bytes(arr))

            if name in p.computed:
                _project_pass(source, p, emit)
            else:
                _copy(source, name, emit, p)


def _walk(source: Source, p: Plan, emit: Emit | None) -> str:
    """Read the input once in file order: hash every byte, check values, and (with ``emit``)
    project ``z`` and copy the tensors the output keeps. Returns the input's SHA-256."""
    h = hashlib.sha256()
    pos = _hash_range(source, h, 0, source.header.data_offset)
    tensors = sorted(source.header.tensors.items(), key=lambda kv: kv[1].start)
    for name, info in tensors:
        start = source.header.data_offset + info.start
        pos = _hash_range(source, h, pos, start)
        if name == "z":
            _project_pass(source, p, emit, h.update)
        elif emit is not None and name in p.lf.tensors() and name not in p.computed:
            _copy(source, name, emit, p, h.update)
        else:
            _copy(source, name, None, p, h.update)
        pos = source.header.data_offset + info.end
    _hash_range(source, h, pos, source.size)
    return h.hexdigest()


def _project_pass(source: Source, p: Plan, emit: Emit | None, on_raw=None) -> None:
    """Project ``z`` chunk by chunk; ``emit`` gets each computed tensor's rows. Hashing runs in
    a thread, and two buffers take turns, so the next chunk is read and projected while the
    last one is still being hashed (SHA-256 is the slowest step of a pool)."""
    lf = source.lf
    bufs, hashed = [None, None], [None, None]
    with ThreadPoolExecutor(max_workers=1) as hasher:  # in order; waits for all on exit
        for i, start in enumerate(range(0, len(lf), p.chunk_rows)):
            stop, slot = min(len(lf), start + p.chunk_rows), i % 2
            if hashed[slot] is not None:
                hashed[slot].result()  # the buffer's previous chunk is hashed: reuse it
            z, bufs[slot] = source.rows_into("z", start, stop, bufs[slot])
            source.prefetch("z", stop, min(len(lf), stop + p.chunk_rows))
            if on_raw is not None:
                hashed[slot] = hasher.submit(on_raw, z.data.cast("B") if z.size else b"")
            _project_chunk(source, p, emit, z, start, check=on_raw is not None)


def _project_chunk(source: Source, p: Plan, emit: Emit | None, z, start: int, check: bool):
    """Check one chunk of ``z`` for NaN/Inf (on the checking pass) and emit its projection."""
    if check and not lfm.all_finite(z):
        row = start + int(np.argmin(np.isfinite(z.reshape(len(z), -1)).all(axis=1)))
        raise LatentFileError(f"{source.name}: z contains NaN or Inf (row {row})")
    if emit is None:
        return
    stop = start + len(z)
    mask = source.rows("mask", start, stop) if source.lf.mask is not None else None
    for offset, out, extras in project_chunks(source.lf.action, z, mask, **p.options):
        row = start + offset
        lfm.require_finite(out, f"{source.name}: the projection {p.options['method']}", row)
        emit("z", row, out)
        for k, v in extras.items():
            emit(k, row, v)


def _copy(source: Source, name: str, emit: Emit | None, p: Plan, on_raw=None) -> None:
    """Copy tensor ``name`` in row blocks (checking ``g``'s element indices on the way)."""
    info = source.header.tensors[name]
    if not info.shape or not info.shape[0]:
        return _copy_whole(source, name, emit, on_raw)
    b = info.shape[0]
    row = max(1, _row_items(info.shape) * sio.DTYPES[info.dtype].itemsize)
    step = max(1, COPY_BLOCK // row)
    check_g = name == "g" and (source.lf.g_kind or source.lf.action.g_kind) == "index"
    for start in range(0, b, step):
        arr = source.rows(name, start, min(b, start + step))
        if on_raw is not None:
            on_raw(arr.data.cast("B") if arr.size else b"")
        if check_g and (msg := lfm.g_range_problem(source.lf.action, arr)):
            raise LatentFileError(f"{source.name}: {msg}")
        if emit is not None:
            emit(name, start, arr)


def _copy_whole(source: Source, name: str, emit: Emit | None, on_raw) -> None:
    """A tensor without rows (0-d, or an empty first axis) in one read."""
    info = source.header.tensors[name]
    start = source.header.data_offset + info.start
    whole = _pread(source.fd, info.end - info.start, start, source.name)
    if on_raw is not None:
        on_raw(whole)
    if emit is not None:
        emit(name, 0, np.frombuffer(whole, sio.DTYPES[info.dtype]).reshape(info.shape))


def _hash_range(source: Source, h, start: int, stop: int) -> int:
    for pos in range(start, stop, COPY_BLOCK):
        h.update(_pread(source.fd, min(COPY_BLOCK, stop - pos), pos, source.name))
    return max(start, stop)


def _end(p: Plan, offsets: dict[str, int]) -> int:
    return max(
        (offsets[k] + v.size * v.dtype.itemsize for k, v in p.lf.tensors().items()),
        default=0,
    )


def _row_items(shape) -> int:
    return int(np.prod(shape[1:], dtype=np.int64)) if len(shape) else 1


def _le_bytes(arr: np.ndarray) -> memoryview:
    arr = np.ascontiguousarray(arr)
    arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
    return memoryview(arr.reshape(-1)).cast("B")


def _pread(fd: int, n: int, offset: int, name: str) -> bytes:
    data = os.pread(fd, n, offset)
    if len(data) != n:
        raise LatentFileError(f"{name}: the file is truncated (it changed while being read)")
    return data


def _pread_into(fd: int, view: memoryview, offset: int, name: str) -> None:
    while len(view):
        got = os.preadv(fd, [view], offset)
        if got == 0:
            raise LatentFileError(f"{name}: the file is truncated (it changed while being read)")
        view, offset = view[got:], offset + got


def _pwrite(fd: int, data, offset: int) -> None:
    view = memoryview(data).cast("B")
    while len(view):
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written
