"""The latent file: safetensors tensors plus metadata saying how a group acts on them.

``read`` / ``write`` take a path or ``-`` (stdin / stdout); ``loads`` / ``dumps`` work on bytes;
``read_header`` reads only the header (for ``inspect`` on files of any size). Reading a path is
lazy: tensors are memory-mapped views, so nothing is loaded until it is used. The normative
description of the format is ``docs/format.md``.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import os
import select
import stat
import sys
import tempfile
from dataclasses import dataclass, field, replace
from functools import partial
from typing import BinaryIO

import numpy as np

from invlatent import __version__
from invlatent.errors import InvlatentError
from invlatent.format import safetensors_io as sio
from invlatent.groups import irreps
from invlatent.groups.action import Action, ActionError

__all__ = [
    "FORMAT",
    "LatentFile",
    "LatentFileError",
    "atomic_output",
    "describe",
    "dumps",
    "ensure_writable_output",
    "input_hash",
    "loads",
    "make_step",
    "read",
    "read_header",
    "validate",
    "write",
    "write_atomic",
]

FORMAT = "invlatent/1"
KNOWN_TENSORS = ("z", "mask", "labels", "targets", "g", "ids")
RESERVED_META = ("format", "action", "targets", "g_kind", "history")
G_KIND_VALUES = ("perm", "index", "angle", "rotation", "rotation+perm")
BLOCK = 1 << 22
FIFO_WAIT = 5.0  # seconds a FIFO given as input may wait for its writer
AT_FDCWD, AT_SYMLINK_FOLLOW = -100, 0x400  # linkat(2): name an O_TMPFILE file


class LatentFileError(InvlatentError):
    """A latent file that cannot be read or does not satisfy the format."""


@dataclass
class LatentFile:
    """Latent codes ``z`` of shape ``(B, ...)`` with their group action and side information."""

    z: np.ndarray
    action: Action
    mask: np.ndarray | None = None
    labels: np.ndarray | None = None
    targets: np.ndarray | None = None
    target_names: list[str] = field(default_factory=list)
    g: np.ndarray | None = None
    g_kind: str | None = None
    ids: np.ndarray | None = None
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)
    source_bytes: object = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return int(self.z.shape[0])

    @property
    def named_targets(self) -> dict[str, np.ndarray]:
        """Each target column by its name (empty without targets): ``lf.named_targets["logP"]``."""
        if self.targets is None:
            return {}
        cols = self.targets.reshape(len(self.targets), -1)
        return {name: cols[:, i] for i, name in enumerate(self.target_names)}

    def tensors(self) -> dict[str, np.ndarray]:
        """All tensors of the file by their stored names."""
        named = {k: getattr(self, k) for k in KNOWN_TENSORS}
        return {**self.extra, **{k: v for k, v in named.items() if v is not None}}

    def metadata(self) -> dict[str, str]:
        """The string-to-string metadata stored in the safetensors header."""
        meta = {**self.meta, "format": FORMAT, "action": str(self.action)}
        meta["history"] = json.dumps(self.history, sort_keys=True, separators=(",", ":"))
        if self.targets is not None:
            meta["targets"] = json.dumps(list(self.target_names))
        if self.g is not None:
            meta["g_kind"] = self.g_kind or self.action.g_kind or "index"
        return meta

    def with_step(self, step: dict, **changes) -> LatentFile:
        """A copy with ``changes`` applied and ``step`` appended to the history."""
        return replace(self, history=[*self.history, step], **changes)

    def subset(self, index: np.ndarray) -> LatentFile:
        """The rows ``index`` of every per-sample tensor (e.g. for sampling or splitting)."""
        take = {k: (None if v is None else v[index]) for k, v in self._per_sample().items()}
        extra = {
            k: v[index] if v.shape[:1] == self.z.shape[:1] else v for k, v in self.extra.items()
        }
        return replace(self, extra=extra, **take)

    def _per_sample(self) -> dict[str, np.ndarray | None]:
        return {k: getattr(self, k) for k in KNOWN_TENSORS}


def make_step(
    command: str, options: dict, *, inputs: list[tuple[str, str]] = (), seed=None
) -> dict:
    """A history entry: the command, its options, seed, tool version and input hashes."""
    return {
        "command": command,
        "options": {k: v for k, v in sorted(options.items()) if v is not None},
        "seed": seed,
        "version": __version__,
        "inputs": [{"name": n, "sha256": h} for n, h in inputs],
    }


def describe(lf: LatentFile) -> str:
    """A short human name for what a file holds, from its history (e.g. ``c8 → project:power``)."""
    steps = [s.get("command", "?") for s in lf.history]
    methods = [
        f"{s['command']}:{s['options']['method']}"
        for s in lf.history
        if isinstance(s.get("options"), dict) and "method" in s["options"]
    ]
    return methods[-1] if methods else (f"raw {lf.action}" if steps else str(lf.action))


def sha256_of(buf) -> str:
    """Hex SHA-256 of a bytes-like object (a whole input file), for the history."""
    return hashlib.sha256(buf).hexdigest()


def sha256_of_file(path: str) -> str:
    """Hex SHA-256 of a file read in blocks (models, arrays), for the history's inputs."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------- reading


def read(source: str, *, allow_nonfinite: bool = False) -> LatentFile:
    """Read and validate a latent file from a path or ``-`` (stdin); tensors are lazy views (a
    sharded data set is read by ``shards.read_input``)."""
    header, buf = _open(source)
    lf = from_header(header, buf, source)
    validate(lf, source, allow_nonfinite=allow_nonfinite)
    lf.source_bytes = buf
    return lf


def loads(data: bytes, *, source: str = "<bytes>", allow_nonfinite: bool = False) -> LatentFile:
    """Read a latent file held in memory."""
    header = wrap_errors(source, sio.parse_bytes, data)
    lf = from_header(header, data, source)
    validate(lf, source, allow_nonfinite=allow_nonfinite)
    return lf


def read_header(source: str) -> tuple[sio.Header, int]:
    """Only the header of a file (path or ``-``) and the file's size; the data is not read."""
    if source == "-":
        data = binary_stdin().read()
        return wrap_errors(source, sio.parse_bytes, data), len(data)
    path, _spool = input_path(source)
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        return wrap_errors(source, sio.read_header, f, size), size


def input_hash(lf: LatentFile) -> str:
    """The SHA-256 of the bytes a file was read from (empty when built in memory)."""
    return "" if lf.source_bytes is None else sha256_of(lf.source_bytes)


def _open(source: str):
    path, _spool = input_path(source)  # the mapping keeps a spooled copy alive
    return wrap_errors("<stdin>" if source == "-" else source, sio.map_file, path)


def input_path(source: str) -> tuple[str, BinaryIO | None]:
    """A path to a regular file with the bytes of ``source``: the path itself, or for stdin
    (``-``) and a FIFO their bytes spooled to an unnamed temporary file (returned too: keep it
    open while the path is used)."""
    if source == "-":
        spool = spool_stdin()
    elif _is_fifo(source):
        spool = spool_fifo(source)
    else:
        check_path(source)
        return source, None
    return f"/proc/self/fd/{spool.fileno()}", spool


def spool_stdin() -> BinaryIO:
    """Copy stdin in blocks to an unnamed temporary file (disk, not memory) and return it."""
    return _spool(binary_stdin())


def spool_fifo(path: str, wait: float | None = None) -> BinaryIO:
    """Copy a FIFO's bytes to an unnamed temporary file, like stdin; a FIFO that no writer opens
    within ``wait`` seconds (``FIFO_WAIT``) is refused, not waited on for ever."""
    wait = FIFO_WAIT if wait is None else wait
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # returns at once, writer or not
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP)
        if not poller.poll(wait * 1000):
            raise LatentFileError(f"{path}: a FIFO with no writer (waited {wait:g} s)")
        os.set_blocking(fd, True)
        with os.fdopen(os.dup(fd), "rb") as f:
            return _spool(f)
    finally:
        os.close(fd)


def _spool(stream: BinaryIO) -> BinaryIO:
    spool = tempfile.TemporaryFile()
    while block := stream.read(BLOCK):
        spool.write(block)
    spool.flush()
    spool.seek(0)
    return spool


def _is_fifo(source: str) -> bool:
    try:
        return stat.S_ISFIFO(os.stat(source).st_mode)
    except OSError:
        return False


def binary_stdin() -> BinaryIO:
    """The process's stdin as bytes; a closed stdin (``<&-``) is one ``LatentFileError``."""
    if sys.stdin is None:
        raise LatentFileError("<stdin>: is closed: give a file, or pipe one in")
    return sys.stdin.buffer


def binary_stdout() -> BinaryIO:
    """The process's stdout as bytes; a closed stdout (``>&-``) is one ``LatentFileError``."""
    if sys.stdout is None:
        raise LatentFileError("<stdout>: is closed: write with -o FILE, or to a pipe")
    return sys.stdout.buffer


def check_path(source: str) -> None:
    """Refuse a missing path, a folder, a socket or a device with one line naming it."""
    if not os.path.exists(source):
        raise LatentFileError(f"{source}: no such file")
    if os.path.isdir(source):
        raise LatentFileError(f"{source}: is a folder, not a latent file")
    wrap_errors(source, sio.check_regular, source)


def wrap_errors(source: str, fn, *args):
    """Call ``fn(*args)``; a safetensors error becomes a ``LatentFileError`` naming ``source``."""
    try:
        return fn(*args)
    except sio.SafetensorsError as e:
        raise LatentFileError(f"{source}: {e}") from None


def from_header(header: sio.Header, buf, source: str) -> LatentFile:
    """A latent file from a parsed header; with ``buf`` None its tensors are shape-only shells
    (zero-stride arrays of the right dtype and shape) for checks that must not read data."""
    meta = dict(header.metadata)
    if "z" not in header.tensors:
        raise LatentFileError(f"{source}: no tensor named 'z' (the latent codes)")
    fmt = meta.pop("format", None)
    if fmt is None or "action" not in meta:
        raise LatentFileError(
            f"{source}: not an invlatent latent file (no 'format'/'action' metadata); "
            "wrap it with `invlatent import FILE --group G`"
        )
    if fmt != FORMAT:
        raise LatentFileError(f"{source}: unsupported format {fmt!r} (this version reads {FORMAT})")
    try:
        action = Action.parse(meta.pop("action"))
    except ActionError as e:
        raise LatentFileError(f"{source}: {e}") from None
    views = {
        name: shell(sio.DTYPES[info.dtype], info.shape)
        if buf is None
        else sio.tensor_view(header, buf, name)
        for name, info in header.tensors.items()
    }
    return LatentFile(
        z=views.pop("z"),
        action=action,
        **{k: views.pop(k, None) for k in ("mask", "labels", "targets", "g", "ids")},
        target_names=_json_meta(meta.pop("targets", None), source, "targets") or [],
        g_kind=meta.pop("g_kind", None),
        extra=views,
        history=_json_meta(meta.pop("history", None), source, "history") or [],
        meta=meta,
    )


def _json_meta(value: str | None, source: str, key: str):
    """The JSON list stored under metadata ``key``, with every item checked (``ITEM_CHECKS``)."""
    if value is None:
        return None
    try:
        out = json.loads(value)
    except (json.JSONDecodeError, RecursionError):
        raise LatentFileError(f"{source}: metadata {key!r} is not valid JSON") from None
    if not isinstance(out, list):
        raise LatentFileError(f"{source}: metadata {key!r} must be a JSON list")
    for i, item in enumerate(out):
        if problem := ITEM_CHECKS[key](item):
            raise LatentFileError(f"{source}: metadata {key!r}, item {i}: {problem}")
    return out


def _target_problem(name) -> str | None:
    return None if isinstance(name, str) else f"a target name must be a string, got {name!r:.40}"


STEP_FIELDS = {"command": str, "options": dict, "seed": (int, type(None)), "version": str,
               "inputs": list}  # fmt: skip


def _step_problem(step) -> str | None:
    """Why a history entry is not a step object (``make_step``'s fields, each of its type)."""
    if not isinstance(step, dict):
        return f"a history step must be a JSON object, got {json.dumps(step)[:40]}"
    for name, kind in STEP_FIELDS.items():
        value = step.get(name)
        if name in step and (not isinstance(value, kind) or isinstance(value, bool)):
            return f"the step's {name!r} has the wrong type ({type(value).__name__})"
    if not isinstance(step.get("options", {}).get("method", ""), str):
        return "the step's method must be a string"
    if not all(isinstance(i, dict) for i in step.get("inputs", [])):
        return "the step's inputs must be JSON objects"
    return None


ITEM_CHECKS = {"targets": _target_problem, "history": _step_problem}


# ---------------------------------------------------------------- validation


def shell(dtype, shape) -> np.ndarray:
    """A read-only zero-stride array standing for a tensor of this dtype and shape."""
    return np.broadcast_to(np.zeros((), dtype=dtype), tuple(shape))


def validate(
    lf: LatentFile, source: str, *, allow_nonfinite: bool = False, data: bool = True
) -> None:
    """Check that tensors, action and metadata agree; raise one ``LatentFileError`` if not.

    ``data=False`` checks shapes, dtypes and metadata only (streaming checks values per chunk).
    """
    problem = _problem(lf, allow_nonfinite or not data, data)
    if problem:
        raise LatentFileError(f"{source}: {problem}")


def _problem(lf: LatentFile, allow_nonfinite: bool, data: bool) -> str | None:
    z = lf.z
    if z.dtype.kind != "f":
        return f"z must be floating point (float16/32/64), got {z.dtype}"
    if z.ndim < 1 or z.shape[0] == 0:
        return f"the batch is empty (z has shape {list(z.shape)})"
    if z.size == 0:
        return f"z holds no values per row (shape {list(z.shape)}): an axis of size 0"
    shape_msg = lf.action.shape_problem(tuple(z.shape))
    if shape_msg:
        return shape_msg
    for check in (_mask_problem, _side_problem, _targets_problem, partial(_g_problem, data=data)):
        msg = check(lf)
        if msg:
            return msg
    if not allow_nonfinite and not all_finite(z):
        return "z contains NaN or Inf (pass --allow-nonfinite to accept it)"
    return None


def _mask_problem(lf: LatentFile) -> str | None:
    m = lf.mask
    if m is None:
        return None
    if not lf.action.has_nodes:
        return f"a mask is only meaningful for node sets (sn, sn*o3, …), not {lf.action}"
    if m.shape != lf.z.shape[:2]:
        return f"mask has shape {list(m.shape)}, expected {list(lf.z.shape[:2])} to match z"
    if m.dtype not in (np.bool_, np.uint8):
        return f"mask must be bool or uint8, got {m.dtype}"
    return None


def _side_problem(lf: LatentFile) -> str | None:
    b = len(lf)
    for name in ("labels", "ids"):
        arr = getattr(lf, name)
        if arr is None:
            continue
        if arr.ndim != 1 or arr.shape[0] != b:
            return f"{name} has shape {list(arr.shape)}, expected [{b}] (one per row of z)"
        if arr.dtype.kind not in "iu":
            return f"{name} must be integers, got {arr.dtype}"
    return None


def _targets_problem(lf: LatentFile) -> str | None:
    t = lf.targets
    if t is None:
        return (
            "metadata names targets but there is no 'targets' tensor" if lf.target_names else None
        )
    if t.ndim != 2 or t.shape[0] != len(lf):
        return f"targets has shape {list(t.shape)}, expected [{len(lf)}, k]"
    if t.dtype.kind != "f":
        return f"targets must be floating point, got {t.dtype}"
    if not lf.target_names:
        lf.target_names = [f"t{i}" for i in range(t.shape[1])]
    if len(lf.target_names) != t.shape[1]:
        return (
            f"metadata names {len(lf.target_names)} targets but the tensor has {t.shape[1]} columns"
        )
    return None


def _g_problem(lf: LatentFile, data: bool) -> str | None:
    g = lf.g
    if g is None:
        return None
    kind = lf.g_kind or lf.action.g_kind
    if kind not in G_KIND_VALUES:
        return f"g_kind must be one of {', '.join(G_KIND_VALUES)}, got {kind!r}"
    if g.shape[:1] != (len(lf),):
        return f"g has {g.shape[0] if g.ndim else 0} rows, expected {len(lf)} (one per row of z)"
    if kind.startswith("rotation"):
        n = lf.z.shape[1] if lf.action.has_nodes else None
        proper = lf.action.g_kind == kind and not lf.action.reflections  # so3's own elements
        return irreps.g_problem(kind, g, lf.extra.get("g_perm"), proper, n, data)
    if kind == "angle" and (g.ndim != 1 or g.dtype.kind != "f"):
        return f"g of kind angle must be float [B], got {g.dtype} {list(g.shape)}"
    if kind == "index" and (g.ndim != 1 or g.dtype.kind not in "iu"):
        return f"g of kind index must be integer [B], got {g.dtype} {list(g.shape)}"
    if kind == "index" and data and (msg := g_range_problem(lf.action, g)):
        return msg
    if kind == "perm" and (g.ndim != 2 or g.dtype.kind not in "iu"):
        return f"g of kind perm must be integer [B, n], got {g.dtype} {list(g.shape)}"
    return None


def g_range_problem(action: Action, g: np.ndarray) -> str | None:
    """Element indices outside the group (checked on the whole ``g`` or chunk by chunk)."""
    if action.group_size and g.size and (g.min() < 0 or g.max() >= action.group_size):
        return f"g holds element indices outside 0..{action.group_size - 1}"
    return None


def require_finite(arr: np.ndarray, what: str, start: int = 0) -> None:
    """Refuse to write an output array that holds NaN or Inf, naming its first bad row (rows
    counted from ``start``): a file the next command would refuse is never written with exit 0."""
    if arr.dtype.kind in "fc" and not all_finite(arr):
        bad = ~np.isfinite(arr.reshape(len(arr), -1)).all(axis=1)
        raise LatentFileError(
            f"{what} holds NaN or Inf (row {start + int(np.argmax(bad))}); nothing was written"
        )


def all_finite(arr: np.ndarray, chunk: int = 1 << 22) -> bool:
    """True when no entry is NaN or Inf; scans in chunks so huge mapped files stay unloaded."""
    flat = arr.reshape(-1)
    return all(np.isfinite(flat[i : i + chunk]).all() for i in range(0, flat.size, chunk))


# ---------------------------------------------------------------- writing


def dumps(lf: LatentFile) -> bytes:
    """The bytes of a latent file."""
    return b"".join(bytes(c) for c in sio.dumps(lf.tensors(), lf.metadata()))


def write(lf: LatentFile, dest: str | None) -> None:
    """Write to a path atomically (temporary file + rename), or as a stream to stdout
    (``None``/``-``), a device or a FIFO."""
    validate(lf, dest or "<output>", allow_nonfinite=True)
    write_atomic(sio.dumps(lf.tensors(), lf.metadata()), dest)


def ensure_writable_output(dest: str | None) -> None:
    """Refuse, before any work is done, to dump binary data on a terminal."""
    if dest in (None, "-") and binary_stdout().isatty():
        raise InvlatentError(
            "refusing to write a binary latent file to the terminal: use -o FILE or a pipe"
        )


def is_stream(dest: str | None) -> bool:
    """Whether output to ``dest`` is written as a stream, in place: stdout (``None``/``-``), or
    an existing character device or FIFO (``-o /dev/null``), which a rename would replace."""
    if dest in (None, "-"):
        return True
    try:
        mode = os.stat(dest).st_mode
    except OSError:
        return False  # not there (or not reachable): a new file, or the writer's own error
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return True
    if stat.S_ISREG(mode):
        return False
    kind = "a folder" if stat.S_ISDIR(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
    raise InvlatentError(f"{dest}: is {kind}, not a file: write to a file, a pipe or -o -")


@contextlib.contextmanager
def output_stream(dest: str | None):
    """stdout, or a character device / FIFO opened for writing; never a terminal."""
    if dest in (None, "-"):
        f = binary_stdout()
    else:
        f = open(dest, "wb")  # noqa: SIM115 (closed below; stdout is not ours to close)
    try:
        if f.isatty():
            raise InvlatentError(
                f"{dest or '<stdout>'}: refusing to write a binary file to a terminal: "
                "use -o FILE or a pipe"
            )
        yield f
        f.flush()
    finally:
        if dest not in (None, "-"):
            f.close()


def write_atomic(chunks, dest: str | None) -> None:
    """Write byte chunks to ``dest`` via a temporary file in its folder, then rename (or as a
    stream, for stdout, a device or a FIFO)."""
    with atomic_output(dest) as f:
        for c in chunks:
            f.write(c)


@contextlib.contextmanager
def atomic_output(dest: str):
    """A binary file that becomes ``dest`` only when the block ends without error.

    The file is created unnamed (``O_TMPFILE``) in ``dest``'s folder where the system allows
    it, so a killed process leaves nothing behind; otherwise a hidden temporary name is used and
    removed on error. A full disk gives one ``InvlatentError`` naming ``dest``. Stdout, a
    character device or a FIFO is written in place as a stream instead (``is_stream``): a rename
    would replace ``/dev/null`` itself. A symbolic link is written through, never replaced.
    """
    if is_stream(dest):
        with output_stream(dest) as f:
            yield f
        return
    target = os.path.realpath(dest)
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise InvlatentError(f"{dest}: folder {folder} does not exist")
    f, tmp = _temporary(folder, target)
    try:
        with f:
            yield f
            f.flush()
            if tmp is None:
                tmp = _name_unnamed(f, folder, target)
        os.replace(tmp, target)
    except BaseException as e:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            raise InvlatentError(f"{dest}: cannot write ({e.strerror.lower()})") from None
        raise


def _temporary(folder: str, dest: str):
    mode = 0o666 & ~umask()
    try:
        fd = os.open(folder, os.O_TMPFILE | os.O_RDWR, mode)
        return os.fdopen(fd, "w+b"), None
    except (AttributeError, OSError):
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(dest)}.", suffix=".part", dir=folder)
        os.chmod(tmp, mode)
        return os.fdopen(fd, "w+b"), tmp


def _name_unnamed(f, folder: str, dest: str) -> str:
    """Give an ``O_TMPFILE`` file a hidden name next to ``dest`` (renamed right after)."""
    tmp = os.path.join(folder, f".{os.path.basename(dest)}.{os.getpid()}.part")
    libc = ctypes.CDLL(None, use_errno=True)
    src = f"/proc/self/fd/{f.fileno()}".encode()
    if libc.linkat(AT_FDCWD, src, AT_FDCWD, os.fsencode(tmp), AT_SYMLINK_FOLLOW) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), dest)
    return tmp


def umask() -> int:
    """The process umask (read without changing it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
