"""Hostile and malformed inputs (issue 22): every one gets exactly one line ``invlatent: error:``
on stderr and exit status 2, within bounded time and memory, never a traceback, a hang, a
partial file or a file full of NaN; degenerate but valid data gets a correct result."""

import json
import os
import signal
import struct
import subprocess
import sys
import threading

import numpy as np
import pytest
from conftest import assert_one_line_error, save_tiny_cnn

from invlatent.format import latentfile as lfm


def st_file(path, tensors: dict, meta: dict | None, entries: dict | None = None):
    """Write safetensors bytes of ``tensors`` at ``path``; ``entries`` replace header entries
    (a hostile file: the writer does not check anything)."""
    head, blobs, offset = {} if meta is None else {"__metadata__": meta}, [], 0
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        dtype = {"f4": "F32", "f8": "F64", "i8": "I64"}[a.dtype.str[1:]]
        head[name] = {
            "dtype": dtype,
            "shape": list(a.shape),
            "data_offsets": [offset, offset + a.nbytes],
        }
        blobs.append(a.tobytes())
        offset += a.nbytes
    head.update(entries or {})
    text = json.dumps(head).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    return path


def meta(action: str, **extra) -> dict:
    return {"format": "invlatent/1", "action": action, "history": "[]", **extra}


def latent(path, action: str, shape, dtype=np.float32, scale: float = 1.0, **extra_meta):
    z = np.random.default_rng(0).standard_normal(shape).astype(dtype) * scale
    labels = np.arange(shape[0]) % 2
    return st_file(path, {"z": z, "labels": labels}, meta(action, **extra_meta))


@pytest.fixture
def alarm():
    """Fail (instead of hanging for ever) when the test body takes more than 20 s."""

    def timeout(signum, frame):
        raise TimeoutError("hung: more than 20 s")

    old = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


# ---------------------------------------------------------------- 2. sizes before allocation


@pytest.mark.parametrize(
    ("action", "shape", "limit"),
    [
        ("so2:0x1000000000", (1, 1), "at most 1048576"),  # a 6 GB frequency tuple
        ("c1000000000", (1, 0, 1000000000), "at most 1024"),  # an empty z claiming |G| = 1e9
        ("o3:1x200e", (1, 401), "degree l <= 10"),  # Wigner-D of degree 200: a hang
        ("so2:1x99999999999999999999", (1, 2), "cannot read"),
    ],
)
def test_sizes_declared_in_metadata_are_refused_before_allocation(
    cli, tmp_path, action, shape, limit
):
    path = st_file(tmp_path / "a.st", {"z": np.zeros(shape, np.float32)}, meta(action))
    assert_one_line_error(cli("inspect", path), limit)


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["project", "-m", "random-sort", "--dim", 10**9, "Z", "-o", "O"], "dim"),
        (["check", "Z", "--pairs", 10**12, "--samples", 4], "--pairs"),
        (["viz", "Z", "-o", "O.png", "--method", "pca", "--dpi", 10**9], "--dpi"),
        (["probe", "Z", "--seed", -1], "--seed"),
    ],
    ids=["dim", "pairs", "dpi", "seed"],
)
def test_option_sizes_are_refused_before_allocation(cli, tmp_path, args, flag):
    path = latent(tmp_path / "z.st", "c4", (6, 2, 4))
    named = {"Z": path, "O": tmp_path / "o.st", "O.png": tmp_path / "o.png"}
    assert_one_line_error(cli(*[named.get(a, a) if isinstance(a, str) else a for a in args]), flag)


def test_encode_copies_are_bounded_before_the_model_is_read(cli, tmp_path):
    assert_one_line_error(cli("encode", tmp_path / "m.pt", "digits", "--copies", 10**8), "--copies")


def test_a_manifest_claiming_impossible_rows_is_refused(cli, tmp_path):
    latent(tmp_path / "a.st", "c4", (3, 2, 4))
    (tmp_path / "dataset.json").write_text(
        '{"format": "invlatent-dataset/1", "shards": [{"file": "a.st", "rows": 1e400}]}'
    )
    assert_one_line_error(cli("inspect", tmp_path), "rows")


def test_a_compressed_archive_is_refused_before_it_inflates(cli, tmp_path, monkeypatch):
    from invlatent.format import arrays

    monkeypatch.setattr(arrays, "MAX_INFLATION", 1 << 20)
    np.savez_compressed(tmp_path / "bomb.npz", z=np.zeros((1 << 20, 2), np.float32))  # 8 MB → 8 KB
    assert os.path.getsize(tmp_path / "bomb.npz") < 1 << 16
    assert_one_line_error(cli("import", tmp_path / "bomb.npz", "--group", "trivial"), "decompress")


def test_a_fifo_is_read_as_a_stream(cli, tmp_path, alarm):
    src = latent(tmp_path / "z.st", "c4", (5, 2, 4))
    os.mkfifo(tmp_path / "f.st")

    def feed():
        with open(tmp_path / "f.st", "wb") as f:
            f.write(src.read_bytes())

    threading.Thread(target=feed, daemon=True).start()
    r = cli("project", "-m", "power", tmp_path / "f.st", "-o", tmp_path / "p.st")
    assert r.exit_code == 0, r.stderr
    assert len(lfm.read(str(tmp_path / "p.st"))) == 5


@pytest.mark.parametrize(
    "args",
    [["inspect", "F"], ["project", "-m", "power", "F"], ["encode", "F", "digits"],
     ["encode", "F", "digits", "--torchscript", "--group", "c4"], ["import", "F", "--group", "c4"]],
    ids=["inspect", "project", "encode", "torchscript", "import"],
)  # fmt: skip
def test_a_fifo_without_a_writer_never_hangs(cli, tmp_path, alarm, monkeypatch, args):
    monkeypatch.setattr(lfm, "FIFO_WAIT", 0.2)
    os.mkfifo(tmp_path / "F")
    r = cli(*[tmp_path / "F" if a == "F" else a for a in args])
    assert_one_line_error(r, "FIFO")


# ---------------------------------------------------------------- 3. parsers never trace back

GOOD = {"dtype": "F32", "shape": [2, 2, 4], "data_offsets": [0, 64]}


@pytest.mark.parametrize(
    "entry",
    [
        {**GOOD, "shape": 5},
        {**GOOD, "shape": None},
        {**GOOD, "shape": [True, 2, 4]},
        {**GOOD, "dtype": ["F32"]},
        {**GOOD, "shape": [2**62, 2**62, 16]},  # the product overflows int64
        {**GOOD, "data_offsets": [0, 1e300]},
    ],
    ids=["shape-int", "shape-null", "shape-bool", "dtype-list", "overflow", "offset-float"],
)
def test_malformed_tensor_entries_are_one_line(cli, tmp_path, entry):
    path = st_file(
        tmp_path / "a.st", {"z": np.zeros((2, 2, 4), np.float32)}, meta("c4"), {"z": entry}
    )
    assert_one_line_error(cli("inspect", path), "'z'")


def test_a_deeply_nested_header_is_one_line(cli, tmp_path):
    text = b'{"z":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    (tmp_path / "a.st").write_bytes(struct.pack("<Q", len(text)) + text)
    assert_one_line_error(cli("inspect", tmp_path / "a.st"), "nested")


@pytest.mark.parametrize(
    ("key", "value"),
    [("history", "[1, 2]"), ("history", "[null]"), ("history", '["x"]'),
     ("history", '[{"options": 5}]'), ("history", '[{"options": {"method": [1]}}]'),
     ("history", "[" * 100_000), ("targets", "[1, 2]")],
)  # fmt: skip
def test_metadata_that_is_not_what_it_claims_is_one_line(cli, tmp_path, key, value):
    z, t = np.zeros((2, 2, 4), np.float32), np.zeros((2, 2), np.float32)
    path = st_file(tmp_path / "a.st", {"z": z, "targets": t}, meta("c4", **{key: value}))
    assert_one_line_error(cli("inspect", path), key)


@pytest.mark.parametrize(
    "action", ["so2:²", "so2:٣", "c١", "o3:1x99999999999999999999o", "c4" * 5000]
)
def test_hostile_action_strings_are_one_short_line(cli, tmp_path, action):
    path = st_file(tmp_path / "a.st", {"z": np.zeros((2, 2), np.float32)}, meta(action))
    r = cli("inspect", path)
    assert_one_line_error(r, "group")
    assert len(r.stderr) < 400


@pytest.mark.parametrize(
    ("action", "shape"),
    [("c4", (3, 0, 4)), ("sn", (3, 0, 2)), ("sn", (3, 4, 0)), ("c4:grid", (2, 0, 4, 2, 2))],
    ids=["0-fields", "0-nodes", "0-channels", "0-grid-fields"],
)
def test_latents_with_no_values_per_row_are_one_line(cli, tmp_path, action, shape):
    path = st_file(tmp_path / "a.st", {"z": np.zeros(shape, np.float32)}, meta(action))
    assert_one_line_error(cli("project", "-m", "bispectrum" if action == "c4" else "sort", path),
                          "no values per row")  # fmt: skip


@pytest.mark.parametrize(
    ("action", "shape"), [("d2", (1, 1, 4)), ("sn", (1, 3, 2)), ("so2:0,1", (1, 3))]
)
def test_a_single_row_is_measured_not_traced_back(cli, tmp_path, action, shape):
    path = latent(tmp_path / "a.st", action, shape)
    r = cli("check", path, "--samples", 4, "--pairs", 4, "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)


def test_a_report_of_too_few_rows_is_one_line_before_any_progress(cli, tmp_path):
    path = latent(tmp_path / "a.st", "c4", (2, 2, 4))
    assert_one_line_error(cli("report", path, "-o", tmp_path / "r.html"), "at least")


@pytest.mark.parametrize(
    "dest",
    ["/dev/full", "x" * 300 + ".st", "nofolder/z.st"],
    ids=["full", "name-too-long", "no-folder"],
)
def test_outputs_that_cannot_be_written_are_one_line(cli, tmp_path, dest):
    path = latent(tmp_path / "a.st", "c4", (3, 2, 4))
    out = dest if dest.startswith("/") else tmp_path / dest
    assert_one_line_error(cli("project", "-m", "pool-mean", path, "-o", out))
    assert_one_line_error(cli("import", np_file(tmp_path), "--group", "c4", "-o", out))


def np_file(tmp_path):
    np.save(tmp_path / "z.npy", np.ones((3, 2, 4), np.float32))
    return tmp_path / "z.npy"


@pytest.mark.parametrize("closed", ["<&-", ">&-"], ids=["stdin", "stdout"])
def test_a_closed_stream_is_one_line(tmp_path, closed):
    path = latent(tmp_path / "a.st", "c4", (3, 2, 4))
    cmd = f"inspect - {closed}" if closed == "<&-" else f"project -m pool-mean {path} {closed}"
    r = subprocess.run(["sh", "-c", f'exec "$0" -m invlatent {cmd}', sys.executable],
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "is closed" in lines[0], r.stderr


# ---------------------------------------------------------------- 4. nothing silently wrong


@pytest.mark.parametrize("method", ["power", "bispectrum"])
def test_an_overflowing_projection_is_refused_not_written(cli, tmp_path, method):
    path = latent(tmp_path / "a.st", "c4", (4, 2, 4), dtype=np.float64, scale=1e300)
    assert_one_line_error(cli("project", "-m", method, path, "-o", tmp_path / "p.st"), "NaN or Inf")
    assert not (tmp_path / "p.st").exists()


def test_images_with_nan_are_not_encoded_into_nan_latents(cli, tmp_path):
    save_tiny_cnn(tmp_path / "m.pt")
    x = np.random.default_rng(0).random((6, 16, 16)).astype(np.float32)
    x[2, 3, 3] = np.nan
    np.savez(tmp_path / "x.npz", x=x, y=np.arange(6) % 2)
    r = cli("encode", tmp_path / "m.pt", tmp_path / "x.npz", "-o", tmp_path / "z.st")
    assert_one_line_error(r, "x.npz", "NaN")
    assert not (tmp_path / "z.st").exists()
    x[2, 3, 3] = 0.5
    np.savez(tmp_path / "x.npz", x=x, y=np.arange(6) % 2)
    r = cli("encode", tmp_path / "m.pt", tmp_path / "x.npz", "--rotate", "angles=nan", "-o", "-")
    assert_one_line_error(r, "finite")  # the angles would be written into g


@pytest.mark.parametrize(
    "labels",
    [np.full(3, 1e30), np.full(3, 2**64 - 1, np.uint64), np.full(3, 0.5), np.full(3, np.nan)],
    ids=["1e30", "uint64-max", "fraction", "nan"],
)
def test_import_refuses_labels_int64_cannot_hold(cli, tmp_path, labels):
    np.save(tmp_path / "y.npy", labels)
    r = cli("import", np_file(tmp_path), "--group", "c4", "--labels", tmp_path / "y.npy")
    assert_one_line_error(r, "y.npy", "labels")


# ---------------------------------------------------------------- 5. one line, always


@pytest.mark.parametrize(
    "args",
    [["project", "--chunk-mb", "0", "-m", "power", "Z"], ["check", "Z", "--samples", "0"],
     ["project", "--nope", "Z"], ["project", "-m", "power", "--dim", "abc", "Z"], ["bogus"],
     ["inspect"]],
    ids=["chunk-mb", "samples", "unknown-option", "not-a-number", "unknown-command", "missing"],
)  # fmt: skip
def test_usage_errors_are_one_line(cli, tmp_path, args):
    path = latent(tmp_path / "a.st", "c4", (3, 2, 4))
    assert_one_line_error(cli(*[path if a == "Z" else a for a in args]))


def test_no_warning_is_printed_before_an_error(cli, tmp_path):
    np.save(tmp_path / "z.npy", np.full((3, 2, 4), 1e300))  # float64 → float32 overflows
    assert_one_line_error(cli("import", tmp_path / "z.npy", "--group", "c4"), "float32")


def test_warnings_come_after_a_result_and_never_before_an_error():
    import typer
    from typer.testing import CliRunner

    from invlatent.cli import _common

    def warn_then(outcome: str):
        _common.say("invlatent: warning: careful")
        if outcome == "fail":
            raise lfm.LatentFileError("broken")

    app = typer.Typer(cls=_common.OneLineErrors)
    app.command("a")(_common.cli_errors(warn_then))
    app.command("b")(lambda: None)
    ok = CliRunner().invoke(app, ["a", "pass"])
    assert ok.exit_code == 0 and ok.stderr.strip() == "invlatent: warning: careful"
    assert_one_line_error(CliRunner().invoke(app, ["a", "fail"]), "broken")
