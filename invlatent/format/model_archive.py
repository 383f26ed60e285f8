"""Refuse model archives (TorchScript, torch.export, torch.save) whose pickles could run code.

torch reads some members of these zip archives with Python's own unpickler: ``torch.export.load``
retries a member with ``weights_only=False`` when the weights-only load fails, and reads pickled
weights, constants and opaque objects with ``weights_only=False`` or ``pickle.loads`` directly. A
pickle runs code through the globals it names (``os.system`` and ``REDUCE``), so before torch sees
an archive every pickle in it, nested archives too, is read opcode by opcode without executing
anything, and every global it would resolve must be one that torch's weights-only unpickler allows
(or a TorchScript type, which only TorchScript's C++ unpickler resolves). A nested ``torch.save``
archive must also load with ``weights_only=True`` itself, so torch's fallback never runs.
"""

from __future__ import annotations

import copyreg
import io
import pickletools
import re
import zipfile
from functools import cache

from invlatent.errors import InvlatentError
from invlatent.format import safetensors_io as sio

MAX_MEMBERS = 100_000
MAX_DEPTH = 3
MAX_ARGUMENT = 64 << 20  # bytes one pickle opcode may read (pickles in model files are small)
TORCHSCRIPT_PREFIXES = ("__torch__.", "torch.jit._pickle.")
STRING_OPS = {"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE",
              "SHORT_BINUNICODE", "BINUNICODE8"}  # fmt: skip
# TorchScript source (compiled, never unpickled) and tensor storages (raw bytes, read by torch's
# C++ reader) of TorchScript and torch.save archives
NOT_PICKLED = re.compile(r"[^/]+/(code/(?!.*\.\.)[^\0]*\.py|data/[0-9]+)")
# opcodes whose result may be a string (a call's); torch's persistent ids are storages, and a
# plain unpickler fails on them
CALLS = {"REDUCE", "NEWOBJ", "NEWOBJ_EX", "OBJ", "INST", "GLOBAL", "STACK_GLOBAL", "EXT1", "EXT2",
         "EXT4"}  # fmt: skip
_MARK, _ANY, _NOT_STR = object(), object(), object()


class UnsafeArchive(InvlatentError):
    """A model archive that names a global a weights-only unpickler would refuse."""


def check_archive(path: str, what: str = "not a model archive") -> None:
    """Refuse ``path`` unless it is a zip archive whose every pickle is weights-only; ``what``
    says what a file that is no zip archive is not."""
    try:
        sio.check_regular(path)  # a FIFO would wait for its writer for ever
        with open(path, "rb") as f, zipfile.ZipFile(f) as z:
            _check_zip(z, path, depth=0)
    except sio.SafetensorsError as e:
        raise InvlatentError(f"{path}: {e}") from None
    except InvlatentError:
        raise
    except FileNotFoundError:
        raise InvlatentError(f"{path}: no such file") from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise InvlatentError(f"{path}: {what} (not a readable zip archive: {e})") from None


def _check_zip(z: zipfile.ZipFile, where: str, depth: int) -> None:
    members = z.infolist()
    if len(members) > MAX_MEMBERS:
        raise InvlatentError(f"{where}: more than {MAX_MEMBERS} members")
    for info in members:
        if NOT_PICKLED.fullmatch(info.filename):
            continue
        name = f"{where}:{info.filename}"
        with z.open(info) as f:
            if f.read(4) == b"PK\x03\x04":
                if depth + 1 >= MAX_DEPTH:
                    raise InvlatentError(f"{name}: archives nested too deep")
                _check_nested(z, info, name, depth + 1)
                continue
        with z.open(info) as f:
            for glob in pickle_globals(_Bounded(f, info.file_size, name)):
                if not _allowed(glob):
                    raise UnsafeArchive(
                        f"{name}: a pickle that names {glob or 'an unreadable global'} "
                        "(refused: loading it could run code)"
                    )


def _check_nested(z: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, depth: int) -> None:
    """A nested archive: its pickles, and, for a ``torch.save`` file, a weights-only load."""
    data = z.read(info)
    with zipfile.ZipFile(io.BytesIO(data)) as inner:
        _check_zip(inner, name, depth)
        saved = any(n.endswith("/data.pkl") or n == "data.pkl" for n in inner.namelist())
    if saved:
        import torch

        try:
            torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception as e:  # any failure: torch would retry without weights_only
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise UnsafeArchive(f"{name}: does not load with weights_only=True ({first})") from None


def pickle_globals(f) -> list[str | None]:
    """The globals a pickle read from ``f`` would resolve, in order, without running it.

    A simulated stack tracks what each item can be: a known string, surely not a string (a
    literal number, container, ...), or anything (the result of a call), so ``STACK_GLOBAL`` is
    resolved as the unpickler would; ``None`` stands for a global whose name could be computed.
    Reading stops where the unpickler would fail: at a malformed opcode, a name that is no
    dotted identifier, or a ``STACK_GLOBAL`` of non-strings (nothing after is ever run)."""
    found: list[str | None] = []
    stack: list = []
    memo: dict = {}
    try:
        for op, arg, _ in pickletools.genops(f):
            if not _step(op, arg, stack, memo, found):
                break
    except (ValueError, IndexError, KeyError, EOFError, UnicodeDecodeError):
        pass  # the unpickler fails here too, before running anything further
    return found


def _step(op, arg, stack: list, memo: dict, found: list) -> bool:
    """Apply one opcode to the simulated stack; False where the unpickler stops."""
    name = op.name
    if name == "STOP":
        return False
    if name in ("GLOBAL", "INST"):
        module, _, attr = arg.partition(" ")
        if not _names(module, attr):
            return False
        found.append(f"{module}.{attr}")
    elif name == "STACK_GLOBAL":
        module, attr = stack[-2], stack[-1]
        if _NOT_STR in (module, attr):
            return False
        if isinstance(module, str) and isinstance(attr, str):
            if not _names(module, attr):
                return False
            found.append(f"{module}.{attr}")
        else:
            found.append(None)
    elif name.startswith("EXT"):
        if arg not in copyreg._inverted_registry:
            return False  # an unregistered extension code: the unpickler fails
        found.append(".".join(copyreg._inverted_registry[arg]))
    elif name in ("REDUCE", "NEWOBJ", "NEWOBJ_EX") and stack[-len(op.stack_before)] is _NOT_STR:
        return False  # calling a literal fails
    elif name == "BUILD":
        stack.pop()  # the state; the object stays what it was
        return True
    if name in ("PUT", "BINPUT", "LONG_BINPUT"):
        memo[arg] = stack[-1]
    elif name == "MEMOIZE":
        memo[len(memo)] = stack[-1]
        return True  # it only looks at the top
    _pop(stack, op.stack_before)
    if name in STRING_OPS:
        stack.append(arg)
    elif name in ("GET", "BINGET", "LONG_BINGET"):
        stack.append(memo[arg])
    else:
        kind = _ANY if name in CALLS else _NOT_STR
        stack.extend(_MARK if a is pickletools.markobject else kind for a in op.stack_after)
    return True


def _pop(stack: list, before: list) -> None:
    """Remove what an opcode consumes (up to and including the topmost mark, if it takes one)."""
    if pickletools.markobject in before:
        while stack.pop() is not _MARK:
            pass
        n = len(before) - 2
    else:
        n = len(before)
    if len(stack) < n:
        raise IndexError("stack underflow")
    del stack[len(stack) - n :]


def _names(module: str, attr: str) -> bool:
    """Whether the unpickler could resolve ``module.attr`` (dotted identifiers only)."""
    return all(part.isidentifier() for part in (*module.split("."), *attr.split(".")))


class _Bounded:
    """A member's stream for ``genops``: a read past the member's end comes back short (the
    unpickler fails there too), and one opcode argument over ``MAX_ARGUMENT`` is refused
    instead of read into memory."""

    def __init__(self, f, size: int, name: str) -> None:
        self.f, self.left, self.name = f, size, name

    def read(self, n: int) -> bytes:
        if n > self.left:
            return b""
        if n > MAX_ARGUMENT:
            raise UnsafeArchive(f"{self.name}: a pickle with an argument of {n} bytes (refused)")
        data = self.f.read(n)
        self.left -= len(data)
        return data

    def readline(self) -> bytes:
        line = self.f.readline(min(self.left, MAX_ARGUMENT))
        self.left -= len(line)
        if len(line) == MAX_ARGUMENT and not line.endswith(b"\n"):
            raise UnsafeArchive(f"{self.name}: a pickle with a line over {MAX_ARGUMENT} bytes")
        return line


def _allowed(glob: str | None) -> bool:
    return glob is not None and (glob.startswith(TORCHSCRIPT_PREFIXES) or glob in _weights_only())


@cache
def _weights_only() -> frozenset[str]:
    """The globals torch's weights-only unpickler allows (``module.name``)."""
    from torch._weights_only_unpickler import _get_allowed_globals

    return frozenset(_get_allowed_globals())
