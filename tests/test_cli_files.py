"""import / inspect through the real CLI, and the one-line error for every kind of bad input."""

import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest
from conftest import assert_one_line_error
from safetensors.numpy import load_file, save_file

from invlatent.format import latentfile as lfm
from invlatent.format.synthetic import make_synthetic

SAMPLES = os.path.join(os.path.dirname(__file__), "..", "sample_latents")


def write_sample(path, group="c8", **kw):
    lfm.write(make_synthetic(group, n_samples=12, seed=0, **kw), str(path))
    return str(path)


# ---------------------------------------------------------------- import


def test_import_npz_then_inspect_then_plain_safetensors(cli, tmp_path, rng):
    z = rng.standard_normal((10, 3, 8)).astype(np.float32)
    labels = rng.integers(0, 3, 10)
    targets = rng.standard_normal((10, 2)).astype(np.float32)
    np.savez(tmp_path / "a.npz", z=z, labels=labels, targets=targets)
    out = tmp_path / "z.st"
    r = cli("import", tmp_path / "a.npz", "--group", "c8", "--target-names", "a,b", "-o", out)
    assert r.exit_code == 0, r.stderr
    info = json.loads(cli("inspect", "--json", out).stdout)
    assert info["action"] == "c8" and info["batch"] == 10 and info["targets"] == ["a", "b"]
    assert info["tensors"]["z"]["shape"] == [10, 3, 8]
    plain = load_file(str(out))
    np.testing.assert_array_equal(plain["z"], z)
    np.testing.assert_array_equal(plain["labels"], labels)
    np.testing.assert_array_equal(plain["targets"], targets)


def test_import_npy_with_side_files_to_stdout(cli, tmp_path, rng):
    z = rng.standard_normal((6, 7))
    np.save(tmp_path / "z.npy", z)
    np.save(tmp_path / "y.npy", np.arange(6))
    r = cli(
        "import",
        tmp_path / "z.npy",
        "--group",
        "so2",
        "--freqs",
        "0,1,1,2",
        "--labels",
        tmp_path / "y.npy",
    )
    assert r.exit_code == 0, r.stderr
    lf = lfm.loads(r.stdout_bytes)
    assert str(lf.action) == "so2:0,1,1,2"
    np.testing.assert_array_equal(lf.z, z.astype(np.float32))
    np.testing.assert_array_equal(lf.labels, np.arange(6))
    assert lf.history[0]["command"] == "import"


def test_import_torch_tensors_without_pickle(cli, tmp_path, rng):
    torch = pytest.importorskip("torch")
    z = torch.randn(5, 9, 2)
    torch.save({"z": z, "mask": torch.ones(5, 9, dtype=torch.bool)}, tmp_path / "z.pt")
    r = cli("import", tmp_path / "z.pt", "--group", "sn")
    assert r.exit_code == 0, r.stderr
    lf = lfm.loads(r.stdout_bytes)
    np.testing.assert_array_equal(lf.z, z.numpy())
    assert lf.mask.all()


class Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_import_refuses_pickled_code(cli, tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"z": Exploit()}, tmp_path / "evil.pt")
    r = cli("import", tmp_path / "evil.pt", "--group", "trivial", "-o", tmp_path / "out.st")
    assert_one_line_error(r, "evil.pt", "weights_only")
    assert not (tmp_path / "out.st").exists()


def test_import_plain_safetensors_file(cli, tmp_path, rng):
    save_file(
        {"z": rng.standard_normal((4, 2, 4)).astype(np.float32)}, str(tmp_path / "x.safetensors")
    )
    r = cli("import", tmp_path / "x.safetensors", "--group", "d2")
    assert r.exit_code == 0, r.stderr
    assert str(lfm.loads(r.stdout_bytes).action) == "d2"


def test_import_nonfinite_refused_unless_allowed(cli, tmp_path):
    z = np.ones((3, 4), dtype=np.float32)
    z[1, 2] = np.nan
    np.save(tmp_path / "z.npy", z)
    assert_one_line_error(
        cli("import", tmp_path / "z.npy", "--group", "trivial"), "NaN or Inf", "--allow-nonfinite"
    )
    r = cli("import", tmp_path / "z.npy", "--group", "trivial", "--allow-nonfinite")
    assert (
        r.exit_code == 0 and np.isnan(lfm.loads(r.stdout_bytes, allow_nonfinite=True).z).sum() == 1
    )


# ---------------------------------------------------------------- inspect


def test_inspect_every_sample_and_stdin(cli):
    files = sorted(os.path.join(SAMPLES, f) for f in os.listdir(SAMPLES))
    r = cli("inspect", "--json", *files)
    assert r.exit_code == 0, r.stderr
    actions = {os.path.basename(s["file"]): s["action"] for s in json.loads(r.stdout)}
    assert (
        actions["c8.st"] == "c8" and actions["sn.st"] == "sn" and actions["trivial.st"] == "trivial"
    )
    with open(os.path.join(SAMPLES, "c8.st"), "rb") as f:
        r = cli("inspect", "-", input=f.read())
    assert r.exit_code == 0 and "action   c8" in r.stderr and r.stdout == ""


def test_inspect_reads_only_the_header_of_a_huge_file(tmp_path):
    """A header announcing 10 GB of data over a sparse file: inspect must not load it."""
    path = tmp_path / "huge.st"
    n = 10 * 2**30 // 4
    header = json.dumps(
        {
            "__metadata__": {"format": "invlatent/1", "action": "trivial"},
            "z": {"dtype": "F32", "shape": [n // 64, 64], "data_offsets": [0, n * 4]},
        }
    ).encode()
    header += b" " * (-len(header) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        f.truncate(8 + len(header) + n * 4)
    huge_kib, report = _peak_rss_of_inspect(path)
    small_kib, _ = _peak_rss_of_inspect(os.path.join(SAMPLES, "trivial.st"))
    assert "batch    41,943,040" in report
    assert huge_kib - small_kib < 100_000  # KiB: the 10 GB of data never became resident


def _peak_rss_of_inspect(path) -> tuple[int, str]:
    """Peak resident memory (KiB) of a fresh process running ``invlatent inspect PATH``.

    VmHWM belongs to the process's own address space, so unlike ``ru_maxrss`` it does not
    inherit the peak of the (possibly large) pytest process that forked it.
    """
    if not os.path.exists("/proc/self/status"):
        pytest.skip("needs /proc to read peak memory")
    code = (
        "import re, sys; from invlatent.cli import main; sys.argv=['invlatent','inspect',sys.argv[1]]\n"
        "try: main()\nexcept SystemExit: pass\n"
        "print(re.search(r'VmHWM:\\s*(\\d+)', open('/proc/self/status').read()).group(1))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    return int(out.stdout.split()[-1]), out.stderr


# ---------------------------------------------------------------- bad input


def header_bytes(header: dict) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw


def make_bad(tmp_path, kind):
    path = tmp_path / f"{kind}.st"
    good = lfm.dumps(make_synthetic("c8", n_samples=4, seed=0))
    meta = {"format": "invlatent/1", "action": "c8"}
    data = {
        "empty": b"",
        "garbage": b"\x89PNG this is not a safetensors file at all",
        "truncated": good[:-40],
        "header_longer_than_file": struct.pack("<Q", 10_000) + b"{}",
        "header_over_100MB": struct.pack("<Q", 200_000_000) + b"{}" + b" " * 100,
        "no_z": header_bytes(
            {"__metadata__": meta, "w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}
        )
        + b"\0" * 4,
        "z_not_float": header_bytes(
            {
                "__metadata__": meta,
                "z": {"dtype": "I32", "shape": [1, 1, 8], "data_offsets": [0, 32]},
            }
        )
        + b"\0" * 32,
        "empty_batch": header_bytes(
            {
                "__metadata__": meta,
                "z": {"dtype": "F32", "shape": [0, 2, 8], "data_offsets": [0, 0]},
            }
        ),
        "wrong_group_axis": header_bytes(
            {
                "__metadata__": meta,
                "z": {"dtype": "F32", "shape": [1, 1, 7], "data_offsets": [0, 28]},
            }
        )
        + b"\0" * 28,
        "unknown_group": good.replace(b'"action":"c8"', b'"action":"q8"'),
        "not_invlatent": header_bytes({"z": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})
        + b"\0" * 4,
    }[kind]
    path.write_bytes(data)
    return path


BAD = {
    "empty": "empty",
    "garbage": "not a safetensors file",
    "truncated": "truncated",
    "header_longer_than_file": "header claims 10000 bytes",
    "header_over_100MB": "over the 100000000-byte limit",
    "no_z": "no tensor named 'z'",
    "z_not_float": "floating point",
    "empty_batch": "batch is empty",
    "wrong_group_axis": "last axis of 8",
    "unknown_group": "unknown group 'q8'",
    "not_invlatent": "invlatent import",
}


@pytest.mark.parametrize("kind", BAD)
def test_bad_files_get_one_line_and_status_2(cli, tmp_path, kind):
    path = make_bad(tmp_path, kind)
    assert_one_line_error(cli("inspect", path), path.name, BAD[kind])


def test_missing_file(cli, tmp_path):
    assert_one_line_error(cli("inspect", tmp_path / "nope.st"), "nope.st", "no such file")


def test_nan_in_a_file_is_refused_when_data_is_read(tmp_path):
    lf = make_synthetic("c8", n_samples=4, seed=0)
    lf.z = lf.z.copy()
    lf.z[0, 0, 0] = np.inf
    lfm.write(lf, str(tmp_path / "inf.st"))
    with pytest.raises(lfm.LatentFileError, match="NaN or Inf"):
        lfm.read(str(tmp_path / "inf.st"))
    assert lfm.read(str(tmp_path / "inf.st"), allow_nonfinite=True).z[0, 0, 0] == np.inf


@pytest.mark.parametrize("side", ["mask", "labels"])
def test_side_arrays_with_the_wrong_batch_size(cli, tmp_path, rng, side):
    np.save(tmp_path / "z.npy", rng.standard_normal((5, 9, 1)))
    np.save(tmp_path / "s.npy", np.ones((4, 9) if side == "mask" else 4, dtype=np.int64))
    out = tmp_path / "o.st"
    r = cli(
        "import", tmp_path / "z.npy", "--group", "sn", f"--{side}", tmp_path / "s.npy", "-o", out
    )
    assert_one_line_error(r, "z.npy", side)
    assert os.listdir(tmp_path) == ["z.npy", "s.npy"] or sorted(os.listdir(tmp_path)) == [
        "s.npy",
        "z.npy",
    ]


def test_unknown_group_on_import(cli, tmp_path, rng):
    np.save(tmp_path / "z.npy", rng.standard_normal((5, 3)))
    assert_one_line_error(
        cli("import", tmp_path / "z.npy", "--group", "so4"), "unknown group 'so4'"
    )


def test_shape_contradicting_the_group_on_import(cli, tmp_path, rng):
    np.save(tmp_path / "z.npy", rng.standard_normal((5, 3, 7)))
    assert_one_line_error(
        cli("import", tmp_path / "z.npy", "--group", "c8"), "z.npy", "last axis of 8"
    )


def test_integer_z_on_import(cli, tmp_path):
    np.save(tmp_path / "z.npy", np.ones((5, 3), dtype=np.int32))
    assert_one_line_error(cli("import", tmp_path / "z.npy", "--group", "trivial"), "floating point")


def test_empty_array_file_on_import(cli, tmp_path):
    (tmp_path / "z.npy").write_bytes(b"")
    assert_one_line_error(cli("import", tmp_path / "z.npy", "--group", "trivial"), "z.npy", "empty")


# ---------------------------------------------------------------- output discipline


def invlatent(*args, **kw):
    return subprocess.run([sys.executable, "-m", "invlatent", *map(str, args)], **kw)


def test_stdout_closed_early_exits_quietly(tmp_path, rng):
    np.save(tmp_path / "z.npy", rng.standard_normal((20000, 8)))
    cmd = f"{sys.executable} -m invlatent import {tmp_path / 'z.npy'} --group trivial | head -c 10 > /dev/null"
    out = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True)
    assert out.stderr == ""
    assert out.returncode == 0


def test_pipe_between_two_commands(tmp_path):
    path = write_sample(tmp_path / "a.st")
    cmd = f"cat {path} | {sys.executable} -m invlatent inspect --json -"
    out = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["action"] == "c8"


def test_refuses_to_write_binary_to_a_terminal(tmp_path, rng):
    import pty

    np.save(tmp_path / "z.npy", rng.standard_normal((3, 2)))
    master, slave = pty.openpty()
    out = invlatent(
        "import",
        tmp_path / "z.npy",
        "--group",
        "trivial",
        stdout=slave,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(slave)
    os.close(master)
    assert out.returncode == 2
    assert "terminal" in out.stderr and "-o FILE" in out.stderr


def test_help_does_not_import_heavy_libraries():
    code = "import sys, invlatent.cli; print(sorted(m for m in ('torch','sklearn','matplotlib','umap','rdkit','scipy','numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert invlatent("--help", capture_output=True, text=True).stdout.startswith("Usage")
