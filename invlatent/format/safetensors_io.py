"""Byte-level safetensors reading and writing: lazy (memory-mapped) reads, deterministic writes.

The safetensors layout is an 8-byte little-endian header length N, N bytes of JSON header, then
the tensor data. This module parses and validates that layout itself, so that a header can be
read without touching the data, a 10 GB file is memory-mapped rather than loaded, and writing
produces the same bytes for the same tensors (sorted keys, no timestamps).
"""

from __future__ import annotations

import json
import math
import mmap
import os
import stat
import struct
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from invlatent.errors import InvlatentError

MAX_HEADER = 100_000_000
MAX_NDIM = 16  # axes of one tensor (numpy's own limit is 64)
MAX_DIM = 1 << 40  # entries along one axis (an empty tensor could otherwise claim any size)
ALIGN = 8

DTYPES = {
    "BOOL": np.dtype(np.bool_),
    "U8": np.dtype("<u1"),
    "I8": np.dtype("<i1"),
    "U16": np.dtype("<u2"),
    "I16": np.dtype("<i2"),
    "U32": np.dtype("<u4"),
    "I32": np.dtype("<i4"),
    "U64": np.dtype("<u8"),
    "I64": np.dtype("<i8"),
    "F16": np.dtype("<f2"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
}
DTYPE_NAMES = {v: k for k, v in DTYPES.items()}


class SafetensorsError(InvlatentError):
    """The bytes are not a valid safetensors file."""


@dataclass(frozen=True)
class TensorInfo:
    """Where one tensor lives in the file: its dtype name, shape and byte range in the data."""

    dtype: str
    shape: tuple[int, ...]
    start: int
    end: int


@dataclass(frozen=True)
class Header:
    """A parsed safetensors header: the tensors, the metadata and where the data begins."""

    tensors: dict[str, TensorInfo]
    metadata: dict[str, str]
    data_offset: int
    data_size: int


def parse_header(prefix: bytes, total_size: int) -> Header:
    """Parse and validate a header from the file's first bytes and its total size."""
    if total_size == 0:
        raise SafetensorsError("the file is empty")
    if total_size < 8:
        raise SafetensorsError(
            f"the file is {total_size} bytes, too short for a safetensors header"
        )
    (n,) = struct.unpack("<Q", prefix[:8])
    if prefix[8:9] not in (b"{", b""):
        raise SafetensorsError("not a safetensors file (no JSON header after the length)")
    if n > MAX_HEADER:
        raise SafetensorsError(f"the header claims {n} bytes, over the {MAX_HEADER}-byte limit")
    if 8 + n > total_size:
        raise SafetensorsError(
            f"the header claims {n} bytes but the file has only {total_size - 8} after the length"
        )
    raw = prefix[8 : 8 + n]
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SafetensorsError("not a safetensors file (the header is not valid JSON)") from None
    except RecursionError:
        raise SafetensorsError("the header's JSON is nested too deeply") from None
    if not isinstance(obj, dict):
        raise SafetensorsError("not a safetensors file (the header is not a JSON object)")
    metadata = _parse_metadata(obj.pop("__metadata__", None) or {})
    tensors = {name: _parse_info(name, info) for name, info in obj.items()}
    data_size = total_size - 8 - n
    _check_layout(tensors, data_size)
    return Header(tensors, metadata, 8 + n, data_size)


def read_header(f: BinaryIO, total_size: int) -> Header:
    """Read only the header of an open binary file of known size."""
    head = f.read(9)
    if len(head) < 9:
        return parse_header(head, total_size)
    (n,) = struct.unpack("<Q", head[:8])
    if n > MAX_HEADER or 8 + n > total_size:
        return parse_header(head, total_size)
    return parse_header(head + f.read(n - 1), total_size)


def map_file(path: str) -> tuple[Header, memoryview | bytes]:
    """Open a file lazily: parse its header and memory-map its bytes (nothing is loaded yet)."""
    check_regular(path)
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        header = read_header(f, size)
        if size == 0:
            return header, b""
        buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    return header, memoryview(buf)


def check_regular(path: str) -> None:
    """Refuse a FIFO, socket or device where a regular file is needed: opening one could wait
    for a writer for ever, and reading ``/dev/zero`` never ends."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise SafetensorsError(f"is {special_kind(mode)}, not a regular file")


def special_kind(mode: int) -> str:
    """What a non-regular file is, in words, from its ``st_mode``."""
    kinds = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))  # fmt: skip
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def parse_bytes(data: bytes) -> Header:
    """Parse the header of a whole file held in memory (e.g. read from stdin)."""
    return parse_header(data[: 8 + min(MAX_HEADER, max(len(data) - 8, 0))], len(data))


def tensor_view(header: Header, buf, name: str) -> np.ndarray:
    """A read-only numpy view of one tensor, without copying (page-faulted lazily for mmaps)."""
    info = header.tensors[name]
    dtype = DTYPES[info.dtype]
    start = header.data_offset + info.start
    arr = np.frombuffer(buf, dtype=dtype, count=int(np.prod(info.shape)), offset=start)
    return arr.reshape(info.shape)


def dumps(tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> list[bytes | memoryview]:
    """Serialise tensors and metadata into safetensors chunks, deterministically (sorted keys)."""
    arrays = {name: _little_endian(name, tensors[name]) for name in sorted(tensors)}
    head, _ = header_bytes({k: (a.dtype, a.shape) for k, a in arrays.items()}, metadata)
    return [head, *(memoryview(a.reshape(-1)).cast("B") for a in arrays.values())]


def header_bytes(
    specs: dict[str, tuple[np.dtype, tuple[int, ...]]], metadata: dict[str, str]
) -> tuple[bytes, dict[str, int]]:
    """The length prefix and header of tensors given by (dtype, shape), and each tensor's
    absolute byte offset; tensors lie in name order, so a writer can stream the data later."""
    header: dict[str, object] = {"__metadata__": dict(sorted(metadata.items()))} if metadata else {}
    starts, offset = {}, 0
    for name in sorted(specs):
        dtype, shape = np.dtype(specs[name][0]).newbyteorder("<"), specs[name][1]
        if dtype not in DTYPE_NAMES:
            raise SafetensorsError(f"tensor {name!r}: dtype {dtype} cannot be stored")
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        header[name] = {
            "dtype": DTYPE_NAMES[dtype],
            "shape": [int(d) for d in shape],
            "data_offsets": [offset, offset + nbytes],
        }
        starts[name] = offset
        offset += nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-(len(text) + 8) % ALIGN)
    head = struct.pack("<Q", len(text)) + text
    return head, {k: v + len(head) for k, v in starts.items()}


def read_stream_header(f: BinaryIO) -> bytes:
    """The length prefix and header bytes read from the start of a stream (short if it ends)."""
    head = f.read(8)
    if len(head) < 8:
        return head
    (n,) = struct.unpack("<Q", head)
    if n > MAX_HEADER:
        raise SafetensorsError(f"the header claims {n} bytes, over the {MAX_HEADER}-byte limit")
    return head + f.read(n)


def _little_endian(name: str, arr: np.ndarray) -> np.ndarray:
    arr = np.ascontiguousarray(arr)
    arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
    if arr.dtype not in DTYPE_NAMES:
        raise SafetensorsError(f"tensor {name!r}: dtype {arr.dtype} cannot be stored")
    return arr


def _parse_metadata(meta) -> dict[str, str]:
    if not isinstance(meta, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in meta.items()
    ):
        raise SafetensorsError("__metadata__ must map strings to strings")
    return meta


def _parse_info(name: str, info) -> TensorInfo:
    try:
        dtype, shape, (start, end) = info["dtype"], info["shape"], info["data_offsets"]
    except (TypeError, KeyError, ValueError):
        raise SafetensorsError(f"tensor {name!r}: header entry is malformed") from None
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise SafetensorsError(f"tensor {name!r}: dtype {_short(dtype)} is not supported")
    if not isinstance(shape, list) or not all(_is_size(d) for d in shape):
        raise SafetensorsError(f"tensor {name!r}: bad shape {_short(shape)} (a list of sizes >= 0)")
    if len(shape) > MAX_NDIM or any(d > MAX_DIM for d in shape):
        raise SafetensorsError(
            f"tensor {name!r}: shape {_short(shape)} is over the limits "
            f"({MAX_NDIM} axes, {MAX_DIM} entries per axis)"
        )
    if not (_is_size(start) and _is_size(end) and start <= end):
        raise SafetensorsError(f"tensor {name!r}: bad data offsets {_short([start, end])}")
    expected = math.prod(shape) * DTYPES[dtype].itemsize  # exact: no int64 overflow
    if end - start != expected:
        raise SafetensorsError(
            f"tensor {name!r}: {end - start} bytes for shape {shape} {dtype} (needs {expected})"
        )
    return TensorInfo(dtype, tuple(shape), start, end)


def _is_size(value) -> bool:
    """A JSON integer >= 0 (not a boolean, not a float)."""
    return type(value) is int and value >= 0


def _short(value) -> str:
    """A header value for an error message, cut to one short line."""
    try:
        text = json.dumps(value)
    except (RecursionError, ValueError, TypeError):
        text = "..."
    return text if len(text) <= 60 else text[:57] + "..."


def _check_layout(tensors: dict[str, TensorInfo], data_size: int) -> None:
    end = max((t.end for t in tensors.values()), default=0)
    if end > data_size:
        raise SafetensorsError(
            f"the file is truncated: the header needs {end} data bytes, the file has {data_size}"
        )
    spans = sorted((t.start, t.end) for t in tensors.values())
    for (_, e0), (s1, _) in zip(spans, spans[1:], strict=False):
        if s1 < e0:
            raise SafetensorsError("the header's tensors overlap")
