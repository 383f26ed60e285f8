"""Fuzz the ``invlatent`` command line with malformed files, hostile options and special paths.

Every case runs one CLI command in a child process under a wall-clock limit (``--timeout``) and a
resident-memory limit (``--rss-mb``, 2 GB by default), with stdin, stdout and stderr on files,
and is classified:

- ``error``: exit 2 with exactly one line ``invlatent: error: ...`` on stderr, nothing on stdout;
- ``accepted``: exit 0 or 1 (a gate), no traceback, no non-finite value in any latent output;
- ``traceback``: a Python traceback, or an exit status other than 0, 1 or 2;
- ``hang``: killed at the time limit;
- ``memory``: killed at the RSS limit, or a ``MemoryError``;
- ``multiline``: exit 2 with more or less than one error line, or with output on stdout;
- ``nan``: exit 0 with NaN or Inf in a latent file it wrote;
- ``marker``: a pickled payload ran (it creates a marker file);
- ``clobbered``: a FIFO, socket or character device given as output is no longer one.

Children are forked from a process that has imported invlatent and torch once, so a case costs
milliseconds of start-up rather than seconds (``--exec`` runs ``python -m invlatent`` instead;
cases with a closed stdin or stdout always do). Same ``--seed``, same cases::

    python scripts/fuzz_cli.py --cases 2000 --seed 0 --json fuzz.json

Run it against another checkout with ``PYTHONPATH=/that/checkout``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import pickle
import random
import resource
import shutil
import signal
import socket
import stat
import struct
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy loads its BLAS
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402

CLASSES = (
    "error",
    "accepted",
    "traceback",
    "hang",
    "memory",
    "multiline",
    "nan",
    "marker",
    "clobbered",
)
BAD = CLASSES[2:]
MARKER = "PAYLOAD_RAN"
LIGHT = False  # --light: no torch, no model files, only the quick commands (the suite's run)
LIGHT_MODULES = ["invlatent.format.streaming", "invlatent.format.importing",
                 "invlatent.analysis.inspection", "invlatent.projections"]  # fmt: skip
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Case:
    """One command line and the streams and special paths around it."""

    name: str
    args: list[str]
    stdin: str | None = None  # a file to read, "closed", or None (empty)
    stdout: str = "file"  # "file", "closed" or "full" (/dev/full)
    exec_: bool = False
    fifo_in: bytes | None = None  # bytes a writer thread feeds into the FIFO "in.fifo"
    outputs: list[str] = field(default_factory=list)  # latent files to check for NaN
    index: int = -1


# ---------------------------------------------------------------- building blocks


def st_bytes(tensors: dict[str, np.ndarray], meta: dict[str, str] | None, header=None) -> bytes:
    """Safetensors bytes of ``tensors``; ``header`` (a dict) may replace or add header entries."""
    head, offset, blobs = {}, 0, []
    if meta is not None:
        head["__metadata__"] = meta
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        dtype = {"f": "F", "i": "I", "u": "U", "b": "BOOL"}[a.dtype.kind]
        dtype = dtype if dtype == "BOOL" else f"{dtype}{a.dtype.itemsize * 8}"
        head[name] = {
            "dtype": dtype,
            "shape": list(a.shape),
            "data_offsets": [offset, offset + a.nbytes],
        }
        offset += a.nbytes
        blobs.append(a.tobytes())
    head.update(header or {})
    text = json.dumps(head).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def meta_for(action: str, **extra) -> dict[str, str]:
    """The metadata of an invlatent file with ``action``."""
    return {"format": "invlatent/1", "action": action, "history": "[]", **extra}


def latent(action: str, shape, rng: random.Random, dtype=np.float32, **tensors) -> bytes:
    """A small latent file of ``shape`` under ``action`` with labels."""
    z = np.random.default_rng(rng.randrange(1 << 30)).standard_normal(shape).astype(dtype)
    labels = np.arange(shape[0], dtype=np.int64) % 2
    return st_bytes({"z": z, "labels": labels, **tensors}, meta_for(action))


VALID = {
    "c4": (3, 4),
    "d2": (2, 4),
    "c4:grid": (2, 4, 3, 3),
    "sn": (5, 3),
    "so2:0,1,2": (5,),
    "o3:1x0e+1x1o": (4,),
    "sn*o3:1x0e+1x1o": (3, 4),
    "trivial": (6,),
}

HOSTILE_ACTIONS = [
    "c1000000000",
    "d999999999",
    "so2:0x1000000000",
    "so2:1x99999999999999999999",
    "so2:²",
    "so2:٣",
    "so2:1,x",
    "o3:1x200e",
    "o3:100000x0e",
    "o3:1x99999999999999999999o",
    "o3:1x1000o",
    "sn*o3:1x60e",
    "so3:3x40e",
    "c2:grid",
    "c99999999999999999999999",
    "c0",
    "c-1",
    "o3:",
    "o3:0x0e",
    "so2:",
    "",
    "🙂",
    "sn*sn",
    "c4" * 1000,
    "o3:" + "+".join(["1x1o"] * 5000),
]

HISTORIES = [
    "[1,2]",
    "[null]",
    '["x"]',
    '[{"options": 5}]',
    '[{"options": {"method": 3}}]',
    '[{"command": 7, "options": []}]',
    "{}",
    "5",
    "[" * 100000 + "]" * 100000,
    "not json",
]

TARGET_NAMES = ["[1, 2]", '["a", null]', '"x"', "[[]]", '["a", "b", "c"]', "{}"]


def header_mutants(rng: random.Random) -> bytes:
    """A safetensors file whose header is malformed in one of many ways."""
    z = np.zeros((4, 2, 4), np.float32)
    good = {"dtype": "F32", "shape": [4, 2, 4], "data_offsets": [0, 128]}
    bad_entries = [
        {**good, "shape": 5},
        {**good, "shape": None},
        {**good, "shape": [True, False]},
        {**good, "shape": [4, 2, "4"]},
        {**good, "dtype": ["F32"]},
        {**good, "dtype": None},
        {**good, "dtype": {}},
        {**good, "shape": [2**62, 2**62, 16]},
        {**good, "shape": [10**30]},
        {**good, "shape": [4, 2, 4.0]},
        {**good, "data_offsets": [0, 1e300]},
        {**good, "data_offsets": None},
        {**good, "data_offsets": [0, 128, 5]},
        {**good, "data_offsets": [-8, 120]},
        {**good, "shape": [-4, 2, 4]},
        [1, 2],
        "z",
        None,
    ]
    kind = rng.randrange(6)
    meta = meta_for("c4")
    if kind == 0:
        return st_bytes({"z": z}, meta, {"z": rng.choice(bad_entries)})
    if kind == 1:
        depth = rng.choice([1000, 100000])
        text = b'{"z":' + b"[" * depth + b"]" * depth + b"}"
        return struct.pack("<Q", len(text)) + text
    if kind == 2:
        data = bytearray(st_bytes({"z": z}, meta))
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)
    if kind == 3:
        data = st_bytes({"z": z}, meta)
        return data[: rng.randrange(len(data))]
    if kind == 4:
        return struct.pack("<Q", rng.choice([2**63, 10**8 - 1, 2**64 - 1, 64])) + b"{}"
    return st_bytes({"z": z}, rng.choice([{"format": 5}, {"a": ["b"]}, [], "x", None]))


def metadata_mutants(rng: random.Random) -> bytes:
    """A well-formed safetensors file whose invlatent metadata is hostile."""
    action = rng.choice(list(VALID))
    z = np.ones((3, *VALID[action]), np.float32)
    kind = rng.randrange(4)
    if kind == 0:
        hostile = rng.choice(HOSTILE_ACTIONS)
        shape = (3, rng.choice([1, 4, 8, 64]), 4) if rng.random() < 0.5 else z.shape
        return st_bytes({"z": np.ones(shape, np.float32)}, meta_for(hostile))
    if kind == 1:
        return st_bytes({"z": z}, meta_for(action, history=rng.choice(HISTORIES)))
    if kind == 2:
        t = np.ones((3, 2), np.float32)
        return st_bytes({"z": z, "targets": t}, meta_for(action, targets=rng.choice(TARGET_NAMES)))
    g_kind = rng.choice(["index", "perm", "angle", "rotation", "bogus", ""])
    g = rng.choice([np.ones(3, np.int64) * 10**12, np.ones((3, 3, 3)), np.ones(3, np.float32)])
    return st_bytes({"z": z, "g": g}, meta_for(action, g_kind=g_kind))


def degenerate(rng: random.Random) -> bytes:
    """Valid but degenerate latents: 0 fields, 0 nodes, 0 channels, one row, huge values, NaN."""
    choices = [
        ("c4", (2, 0, 4)),
        ("c4", (1, 2, 4)),
        ("d2", (1, 1, 4)),
        ("sn", (3, 0, 2)),
        ("sn", (3, 4, 0)),
        ("sn", (1, 3, 2)),
        ("so2:0,1", (1, 3)),
        ("o3:1x1o", (1, 3)),
        ("trivial", (1, 0)),
        ("trivial", (1, 1)),
        ("c4:grid", (2, 0, 4, 2, 2)),
        ("sn*o3:1x0e+1x1o", (2, 0, 4)),
    ]
    action, shape = rng.choice(choices)
    r = rng.random()
    if r < 0.3:
        big = np.random.default_rng(rng.randrange(1 << 30)).standard_normal((4, *shape[1:]))
        z = big * 1e300
        return st_bytes({"z": z, "labels": np.arange(4) % 2}, meta_for(action))
    if r < 0.4:
        z = np.full((4, *shape[1:]), np.nan, np.float32)
        return st_bytes({"z": z}, meta_for(action))
    return latent(action, shape, rng)


def npz_bomb(size: int) -> bytes:
    """A tiny .npz holding one highly compressed array of ``size`` bytes of zeros."""
    import zipfile

    buf = io.BytesIO()
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (size // 4,)}
    )
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("z.npy", "w") as f:
        f.write(header.getvalue())
        block = bytes(1 << 20)
        for _ in range(size // len(block)):
            f.write(block)
    return buf.getvalue()


class Payload:
    """Creates the marker file when unpickled."""

    def __reduce__(self):
        return (io.open, (MARKER, "w"))


# ---------------------------------------------------------------- the corpus


def build_fixtures(work: str, rng: random.Random) -> None:
    """Files every case may use: valid latents, arrays, models and special paths."""

    def put(name: str, data: bytes) -> None:
        with open(os.path.join(work, name), "wb") as f:
            f.write(data)

    for i, (action, shape) in enumerate(VALID.items()):
        put(f"valid{i}.st", latent(action, (12, *shape), rng))
    np.save(os.path.join(work, "z.npy"), np.ones((6, 2, 4), np.float32))
    np.save(os.path.join(work, "labels_big.npy"), np.full(6, 1e30))
    np.save(os.path.join(work, "labels_frac.npy"), np.full(6, 0.5))
    np.save(os.path.join(work, "labels_nan.npy"), np.full(6, np.nan))
    np.save(os.path.join(work, "labels_ok.npy"), np.arange(6))
    np.save(os.path.join(work, "labels_u64.npy"), np.full(6, 2**64 - 1, np.uint64))
    np.save(os.path.join(work, "nan.npy"), np.full((6, 2, 4), np.nan, np.float32))
    np.save(os.path.join(work, "big64.npy"), np.full((6, 2, 4), 1e300))
    np.save(os.path.join(work, "obj.npy"), np.array([Payload()], dtype=object), allow_pickle=True)
    np.savez_compressed(os.path.join(work, "z.npz"), z=np.ones((6, 2, 4), np.float32))
    if not LIGHT:  # import cases only
        put("bomb.npz", npz_bomb(300 << 20))  # over the 256 MiB limit
    put("garbage.pt", os.urandom(300))
    put("payload.pkl", pickle.dumps(Payload()))
    try:
        if LIGHT:
            raise ImportError("--light: no torch")
        import torch

        buf = io.BytesIO()
        torch.save({"z": torch.ones(6, 2, 4)}, buf)
        put("z.pt", buf.getvalue())
        put("payload.pt", _torch_payload(buf.getvalue()))
        put("enc.ts", _torchscript_encoder())
    except ImportError:
        pass
    manifest = {"format": "invlatent-dataset/1", "shards": [{"file": "valid0.st", "rows": 1e400}]}
    os.makedirs(os.path.join(work, "ds"), exist_ok=True)
    shutil.copy(os.path.join(work, "valid0.st"), os.path.join(work, "ds", "valid0.st"))
    put("ds/dataset.json", json.dumps(manifest).replace("Infinity", "1e400").encode())
    os.makedirs(os.path.join(work, "folder"), exist_ok=True)
    os.mkfifo(os.path.join(work, "out.fifo"))
    os.mkfifo(os.path.join(work, "in.fifo"))
    os.mkfifo(os.path.join(work, "nw.fifo"))  # no writer ever opens it
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(os.path.join(work, "out.sock"))
    sock.close()
    if os.geteuid() == 0:
        os.mknod(os.path.join(work, "out.dev"), 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.symlink("loop", os.path.join(work, "loop"))


def _torch_payload(clean: bytes) -> bytes:
    """A torch.save archive whose data.pkl is a payload."""
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(clean)) as z, zipfile.ZipFile(out, "w") as w:
        for info in z.infolist():
            data = z.read(info)
            if info.filename.endswith("data.pkl"):
                data = pickle.dumps(Payload(), protocol=2)
            w.writestr(info.filename, data)
    return out.getvalue()


def _torchscript_encoder() -> bytes:
    """A tiny TorchScript image encoder: (B, 1, H, W) → (B, 2, 4)."""
    import torch

    class Enc(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            m = x.mean((1, 2, 3))
            return torch.stack([m, m, m, m], 1)[:, None, :].repeat(1, 2, 1)

    buf = io.BytesIO()
    torch.jit.save(torch.jit.script(Enc()), buf)
    return buf.getvalue()


SPECIAL_OUT = ["out.fifo", "out.sock", "out.dev", "folder", "nofolder/x.st", "x" * 300 + ".st"]
METHODS = [
    "sort",
    "power",
    "bispectrum",
    "canonical",
    "random-sort",
    "random-max",
    "pool-max",
    "pool-mean",
    "auto",
    "norms",
    "gram",
]
BIG = ["0", "-1", "1", "100000000", "1000000000", "99999999999999999999", "abc", "1e3", "2"]


KINDS = {"header": 14, "meta": 18, "degenerate": 14, "options": 18, "paths": 10, "import": 10,
         "model": 6, "streams": 10}  # fmt: skip


def make_case(i: int, seed: int, work: str, kinds: list[str] | None = None) -> Case:
    """The ``i``-th case of a seeded run (of the chosen ``kinds``: all by default)."""
    rng = random.Random(f"{seed}:{i}")
    names = kinds or list(KINDS)
    kind = rng.choices(names, weights=[KINDS[k] for k in names])[0]
    if kind in ("header", "meta", "degenerate"):
        data = {"header": header_mutants, "meta": metadata_mutants, "degenerate": degenerate}[kind](
            rng
        )
        path = f"case{i}.st"
        with open(os.path.join(work, path), "wb") as f:
            f.write(data)
        return _file_command(kind, path, rng, i)
    return globals()[f"_{kind}_case"](rng, i, work)


def _file_command(kind: str, path: str, rng: random.Random, i: int) -> Case:
    """A command that reads the latent file ``path`` (``LIGHT``: inspect or project only)."""
    out = f"out{i}.st"
    cmd = rng.choices(
        ["inspect", "project", "check", "probe", "viz", "report"], weights=[6, 10, 4, 3, 2, 1]
    )[0]
    cmd = cmd if not LIGHT or cmd in ("inspect", "project") else "project"
    if cmd == "inspect":
        args = ["inspect", path, *(["--json"] if rng.random() < 0.5 else [])]
    elif cmd == "project":
        args = ["project", "-m", rng.choice(METHODS), path, "-o", out]
    elif cmd == "check":
        args = ["check", path, "--samples", "8", "--pairs", "8"]
    elif cmd == "probe":
        args = ["probe", path, "--folds", "2"]
    elif cmd == "viz":
        args = ["viz", path, "-o", f"out{i}.png", "--method", "pca", "--dpi", "20"]
    else:
        args = ["report", path, "-o", f"out{i}.html", "--embeddings", "pca", "--tasks", "linear"]
    return Case(f"{kind}:{cmd}", args, outputs=[out])


def _options_case(rng: random.Random, i: int, work: str) -> Case:
    src = f"valid{rng.randrange(len(VALID))}.st"
    out = f"out{i}.st"
    value = rng.choice(BIG)
    options = [
        ["project", "-m", "random-sort", "--dim", value, src, "-o", out],
        ["project", "-m", "power", "--chunk-mb", value, src, "-o", out],
        ["project", "-m", "sort", "--key-channel", value, src, "-o", out],
        ["project", "-m", "random-max", "--seed", value, src, "-o", out],
        ["check", src, "--pairs", value, "--samples", "4"],
        ["check", src, "--samples", value, "--pairs", "4"],
        ["check", src, "--seed", value, "--samples", "4", "--pairs", "4"],
        ["probe", src, "--folds", value],
        ["probe", src, "--seed", value, "--folds", "2"],
        ["viz", src, "-o", f"out{i}.png", "--dpi", value, "--method", "pca"],
        ["viz", src, "-o", f"out{i}.png", "--sample", value, "--method", "pca"],
        ["viz", src, "-o", f"out{i}.png", "--orbits", value, "--method", "pca"],
        ["viz", src, "-o", f"out{i}.png", "--orbit-size", value, "--method", "pca"],
        ["report", src, "-o", f"out{i}.html", "--samples", value, "--embeddings", "pca"],
        ["report", src, "-o", f"out{i}.html", "--probe-rows", value, "--embeddings", "pca"],
        ["import", "z.npy", "--group", "c4", "--key", value, "-o", out],
    ]
    return Case(f"options:{value}", rng.choice(options), outputs=[out])


def _paths_case(rng: random.Random, i: int, work: str) -> Case:
    src = f"valid{rng.randrange(len(VALID))}.st"
    target = rng.choice(SPECIAL_OUT)
    choices = [
        Case("paths:-o", ["project", "-m", "pool-mean", src, "-o", target]),
        Case("paths:import-o", ["import", "z.npy", "--group", "c4", "-o", target]),
        Case("paths:in", ["inspect", rng.choice(["folder", "loop", "missing.st", "out.sock"])]),
        Case("paths:fifo-in", ["inspect", "in.fifo"], fifo_in=_fifo_bytes(rng, work)),
        Case(
            "paths:fifo-in",
            ["project", "-m", "pool-max", "in.fifo", "-o", f"out{i}.st"],
            fifo_in=_fifo_bytes(rng, work),
            outputs=[f"out{i}.st"],
        ),
        Case("paths:fifo-model", ["encode", "in.fifo", "x"], fifo_in=rng.randbytes(64)),
        Case(
            "paths:fifo-import",
            ["import", "in.fifo", "--group", "c4", "-o", f"out{i}.st"],
            fifo_in=rng.randbytes(64),
        ),  # fmt: skip
        Case(
            "paths:fifo-no-writer",
            rng.choice(
                [
                    ["inspect", "nw.fifo"],
                    ["encode", "nw.fifo", "x"],
                    ["import", "nw.fifo", "--group", "c4"],
                    ["project", "-m", "power", "nw.fifo"],
                ]
            ),
        ),
        Case("paths:manifest", ["inspect", "ds"]),
        Case("paths:manifest", ["project", "-m", "pool-max", "ds", "-o", f"out{i}.st"]),
    ]
    return rng.choice(choices)


def _fifo_bytes(rng: random.Random, work: str) -> bytes:
    if rng.random() < 0.5:
        with open(os.path.join(work, "valid0.st"), "rb") as f:
            return f.read()
    return rng.choice([b"", rng.randbytes(40), header_mutants(rng)])


def _import_case(rng: random.Random, i: int, work: str) -> Case:
    out = f"out{i}.st"
    src = rng.choice(["z.npy", "z.npz", "z.pt", "bomb.npz", "obj.npy", "payload.pt", "garbage.pt",
                      "payload.pkl", "nan.npy", "big64.npy"])  # fmt: skip
    group = rng.choice(["c4", "d2", "sn", "trivial", *HOSTILE_ACTIONS[:12]])
    args = ["import", src, "--group", group, "-o", out]
    if rng.random() < 0.5:
        labels = rng.choice(["labels_big.npy", "labels_frac.npy", "labels_nan.npy",
                             "labels_ok.npy", "labels_u64.npy", "payload.pt"])  # fmt: skip
        args += ["--labels", labels]
    return Case(f"import:{src}", args, outputs=[out])


def _model_case(rng: random.Random, i: int, work: str) -> Case:
    out = f"out{i}.st"
    model = rng.choice(["enc.ts", "payload.pt", "garbage.pt", "payload.pkl", "valid0.st"])
    args = ["encode", model, "digits", "--torchscript", "--group", "c4", "--limit", "4"]
    rotate = ["--rotate", rng.choice(["random", "c100000000", "angles=nan", "c0"])]
    sizes = [["--copies", rng.choice(BIG)], ["--batch-size", rng.choice(BIG)]]
    extra = rng.choice([[], ["--seed", "-1"], rotate, *sizes, ["--limit", rng.choice(BIG)]])
    return Case(f"model:{model}", [*args, *extra, "-o", out], outputs=[out])


def _streams_case(rng: random.Random, i: int, work: str) -> Case:
    src = f"valid{rng.randrange(len(VALID))}.st"
    choices = [
        Case("streams:stdin-closed", ["inspect", "-"], stdin="closed", exec_=True),
        Case(
            "streams:stdout-closed",
            ["project", "-m", "pool-mean", src],
            stdout="closed",
            exec_=True,
        ),  # fmt: skip
        Case("streams:full", ["project", "-m", "pool-mean", src], stdout="full"),
        Case("streams:full", ["import", "z.npy", "--group", "c4"], stdout="full"),
        Case("streams:stdin", ["project", "-m", "power", "-"], stdin=src),
        Case("streams:stdin-empty", ["inspect", "-"], stdin=None),
        Case(
            "streams:usage",
            [
                rng.choice(["project", "check", "inspect", "bogus"]),
                rng.choice(["--nope", "-m", "--chunk-mb"]),
            ],
        ),  # fmt: skip
    ]
    return rng.choice(choices)


# ---------------------------------------------------------------- running a case


def run_case(case: Case, work: str, timeout: float, rss_limit: int, exec_all: bool) -> dict:
    """Run one case in a child process and classify it."""
    for name in ("stdout", "stderr", MARKER):
        with_path = os.path.join(work, name)
        if os.path.exists(with_path):
            os.unlink(with_path)
    specials = _special_kinds(work)
    feeder = _feed_fifo(work, case.fifo_in) if case.fifo_in is not None else None
    drain = _drain_fifo(work)
    sys.stdout.flush()
    sys.stderr.flush()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _child(case, work, exec_all or case.exec_)
    killed, peak = _watch(pid, timeout, rss_limit)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.monotonic() - start
    drain.set()
    if feeder:
        feeder.set()
    peak = max(peak, usage.ru_maxrss * 1024)
    return _classify(case, work, status, killed, peak, specials, elapsed)


def _child(case: Case, work: str, use_exec: bool) -> None:
    """Set up the streams and run the command; never returns."""
    code = 1
    try:
        os.setpgid(0, 0)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        os.chdir(work)
        _redirect(case, work)
        if use_exec:
            os.execv(sys.executable, [sys.executable, "-m", "invlatent", *case.args])
        from invlatent.cli import main

        sys.argv = ["invlatent", *case.args]
        try:
            main()
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:
            traceback.print_exc()
            code = 1
        try:  # what the interpreter does at exit: a failing flush is exit status 120
            if sys.stdout is not None:
                sys.stdout.flush()
        except BaseException:
            traceback.print_exc()
            code = 120
    finally:
        with contextlib.suppress(BaseException):
            sys.stderr.flush()  # the traceback, if any, must reach the file before _exit
        os._exit(code)


def _redirect(case: Case, work: str) -> None:
    """Point fds 0, 1 and 2 at the case's stdin, stdout and stderr."""
    err = os.open("stderr", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(err, 2)
    if case.stdin == "closed":
        os.close(0)
    else:
        src = os.open(case.stdin or os.devnull, os.O_RDONLY)
        os.dup2(src, 0)
    if case.stdout == "closed":
        os.close(1)
    else:
        dest = "/dev/full" if case.stdout == "full" else "stdout"
        os.dup2(os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 1)
    sys.stdin, sys.stdout, sys.stderr = _std(0, "r"), _std(1, "w"), _std(2, "w", line=True)


def _std(fd: int, mode: str, line: bool = False):
    """A fresh standard stream on ``fd`` as Python makes one (None when the fd is closed; stderr
    line-buffered), so a parent that captured its own (a test runner) does not swallow the
    child's output."""
    try:
        os.fstat(fd)
    except OSError:
        return None
    return open(fd, mode, buffering=1 if line else -1, closefd=False, encoding="utf-8",
                errors="backslashreplace")  # fmt: skip


def _watch(pid: int, timeout: float, rss_limit: int) -> tuple[str | None, int]:
    """Poll the child's resident memory until it exits; kill it at either limit."""
    deadline, peak = time.monotonic() + timeout, 0
    while True:
        done, _ = _peek(pid)
        if done:
            return None, peak
        rss = _rss(pid)
        peak = max(peak, rss)
        if rss > rss_limit or time.monotonic() > deadline:
            _kill(pid)
            return ("memory" if rss > rss_limit else "hang"), peak
        time.sleep(0.005)


def _peek(pid: int):
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True, None
    return info is not None, info


def _rss(pid: int) -> int:
    """Resident bytes of the child (0 when gone)."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _kill(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _feed_fifo(work: str, data: bytes) -> threading.Event:
    """Write ``data`` into in.fifo once a reader opens it (a writer thread)."""
    stop = threading.Event()

    def feed() -> None:
        path = os.path.join(work, "in.fifo")
        while not stop.is_set():
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                time.sleep(0.01)
                continue
            os.set_blocking(fd, True)
            try:
                os.write(fd, data)
            except OSError:
                pass
            os.close(fd)
            return

    threading.Thread(target=feed, daemon=True).start()
    return stop


def _drain_fifo(work: str) -> threading.Event:
    """Read and discard whatever a case writes into out.fifo (a reader thread)."""
    stop = threading.Event()

    def drain() -> None:
        fd = os.open(os.path.join(work, "out.fifo"), os.O_RDONLY | os.O_NONBLOCK)
        try:
            while not stop.is_set():
                try:
                    if not os.read(fd, 1 << 16):
                        time.sleep(0.01)
                except BlockingIOError:
                    time.sleep(0.01)
        finally:
            os.close(fd)

    threading.Thread(target=drain, daemon=True).start()
    return stop


def _special_kinds(work: str) -> dict[str, int]:
    out = {}
    for name in ("out.fifo", "out.sock", "out.dev", "in.fifo", "nw.fifo"):
        try:
            out[name] = stat.S_IFMT(os.lstat(os.path.join(work, name)).st_mode)
        except OSError:
            pass
    return out


def _classify(case, work, status, killed, peak, specials, elapsed) -> dict:
    err = _read(os.path.join(work, "stderr"))
    out = _read(os.path.join(work, "stdout"))
    code = os.waitstatus_to_exitcode(status)
    lines = err.decode("utf-8", "replace").strip().splitlines()
    verdict = _verdict(case, work, code, killed, lines, out, specials)
    return {
        "case": case.index,
        "name": case.name,
        "args": case.args,
        "class": verdict,
        "exit": code,
        "seconds": round(elapsed, 3),
        "peak_mb": round(peak / 2**20),
        "stderr": lines[-3:],
    }


def _verdict(case, work, code, killed, lines, out, specials) -> str:
    if os.path.exists(os.path.join(work, MARKER)):
        return "marker"
    if _special_kinds(work) != specials:
        _restore_specials(work, specials)
        return "clobbered"
    if killed:
        return killed
    text = "\n".join(lines)
    if "MemoryError" in text or "Cannot allocate memory" in text:
        return "memory"
    if "Traceback" in text or code not in (0, 1, 2):
        return "traceback"
    if code == 2:
        ok = len(lines) == 1 and lines[0].startswith("invlatent: error:") and not out
        return "error" if ok else "multiline"
    written = [os.path.join(work, p) for p in case.outputs] + [os.path.join(work, "stdout")]
    if code == 0 and any(_has_nonfinite(p) for p in written):
        return "nan"
    return "accepted"


def _restore_specials(work: str, specials: dict[str, int]) -> None:
    """Put the FIFOs, socket and device back after a case replaced one."""
    for name, kind in specials.items():
        path = os.path.join(work, name)
        if os.path.lexists(path) and stat.S_IFMT(os.lstat(path).st_mode) == kind:
            continue
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.unlink(path)
        if stat.S_ISFIFO(kind):
            os.mkfifo(path)
        elif stat.S_ISCHR(kind):
            os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        elif stat.S_ISSOCK(kind):
            s = socket.socket(socket.AF_UNIX)
            s.bind(path)
            s.close()


def _read(path: str, limit: int = 1 << 16) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(limit)
    except OSError:
        return b""


def _has_nonfinite(path: str) -> bool:
    """Whether the safetensors file at ``path`` holds a NaN or Inf in a float tensor."""
    try:
        if not os.path.isfile(path) or os.path.getsize(path) < 8:
            return False
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            if n > 1 << 24:
                return False
            head = json.loads(f.read(n))
            data = f.read()
    except (OSError, ValueError, struct.error):
        return False
    if not isinstance(head, dict):
        return False
    for name, info in head.items():
        if name == "__metadata__" or not isinstance(info, dict):
            continue
        if str(info.get("dtype", "")).startswith("F"):
            a, b = info["data_offsets"]
            arr = np.frombuffer(data[a:b], dtype=f"<f{int(info['dtype'][1:]) // 8}")
            if not np.isfinite(arr).all():
                return True
    return False


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Generate and run the cases, print the counts per class (exit 1 if any run went bad)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=20.0, help="seconds per case")
    p.add_argument("--rss-mb", type=int, default=2048, help="resident memory limit per case")
    p.add_argument("--exec", dest="exec_all", action="store_true", help="exec every case")
    p.add_argument("--json", help="write every case's record here")
    p.add_argument("--show", type=int, default=3, help="bad cases printed per class")
    p.add_argument("--only", help="run only these case numbers (comma-separated), e.g. to rerun")
    p.add_argument("--light", action="store_true", help="no torch: file cases, quick commands")
    p.add_argument(
        "--kinds", help=f"only cases of these kinds (comma-separated: {', '.join(KINDS)})"
    )
    a = p.parse_args(argv)
    global LIGHT
    LIGHT = a.light
    _warm_up(torch=not a.light)
    try:
        return _run(a)
    finally:  # a run inside another process (the test suite) leaves it as it was
        import typer.main

        typer.main.get_command = BUILD[0]
        gc.unfreeze()


def _run(a: argparse.Namespace) -> int:
    """Build the fixtures, run and classify the cases, print (and save) the counts."""
    records = []
    with tempfile.TemporaryDirectory(prefix="invlatent-fuzz-") as work:
        build_fixtures(work, random.Random(a.seed))
        t0 = time.monotonic()
        chosen = [int(i) for i in a.only.split(",")] if a.only else range(a.cases)
        for i in chosen:
            case = make_case(i, a.seed, work, a.kinds.split(",") if a.kinds else None)
            case.index = i
            records.append(run_case(case, work, a.timeout, a.rss_mb << 20, a.exec_all))
        wall = time.monotonic() - t0
    counts = Counter(r["class"] for r in records)
    _print_table(counts, len(records), wall, records, a.show)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"cases": a.cases, "seed": a.seed, "counts": counts, "runs": records}, f)
    return 1 if any(counts[c] for c in BAD) else 0


BUILD = []  # typer's own get_command, put back when a run ends


def _warm_up(torch: bool = True) -> None:
    """Import every module of invlatent (and torch) and build the click command once, before
    the children are forked, so that each case pays only for its own work."""
    import importlib
    import pkgutil

    import typer.main

    import invlatent
    import invlatent.cli

    BUILD[:] = [typer.main.get_command]

    modules = [m.name for m in pkgutil.walk_packages(invlatent.__path__, "invlatent.")]
    for name in modules if torch else LIGHT_MODULES:
        if not name.endswith("__main__"):
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 (an optional extra that is not installed)
                pass
    built, build = {}, BUILD[0]
    typer.main.get_command = lambda app: built.get(id(app)) or built.setdefault(id(app), build(app))
    for args in (["inspect", "/nonexistent"], ["check", "--samples", "x", "/nonexistent"]):
        with contextlib.redirect_stderr(io.StringIO()), contextlib.suppress(SystemExit):
            invlatent.cli.app(args)
    if torch:
        with contextlib.suppress(ImportError):
            import torch as torch_module

            torch_module.set_num_threads(1)
    gc.freeze()  # the children share the parent's objects without copying them


def _print_table(counts: Counter, n: int, wall: float, records: list[dict], show: int) -> None:
    print(f"{n} cases in {wall:.0f} s")
    print(f"{'class':<12}{'count':>7}")
    for c in CLASSES:
        print(f"{c:<12}{counts[c]:>7}")
    for c in BAD:
        for r in [r for r in records if r["class"] == c][:show]:
            print(f"  {c}: {' '.join(r['args'])[:150]} -> {r['stderr'][-1:] or r['exit']}")


if __name__ == "__main__":
    sys.exit(main())
