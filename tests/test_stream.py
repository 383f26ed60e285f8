"""Streaming ``project``: same bytes as the in-memory path, bounded memory, nothing partial."""

import json
import os
import resource
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import assert_one_line_error

from invlatent.format import latentfile as lfm
from invlatent.format import safetensors_io as sio
from invlatent.format.projected import project_latents
from invlatent.format.synthetic import make_synthetic

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEAK = """import atexit, sys
def _report():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            sys.stderr.write("\\nPEAK_KB " + line.split()[1] + "\\n")
atexit.register(_report)
sys.argv = ["invlatent", *sys.argv[1:]]
from invlatent.cli import main
main()
"""


def big_c8(path, rows: int, fields: int = 16, nan_row: int | None = None, action="c8") -> None:
    """A c8 latent file [rows, fields, 8] written block by block (never whole in memory), with
    labels; ``action="sn"`` reads the same values as ``fields`` nodes of 8 channels."""
    meta = {"format": "invlatent/1", "action": action, "history": "[]"}
    specs = {"labels": (np.int64, (rows,)), "z": (np.float32, (rows, fields, 8))}
    head, _ = sio.header_bytes(specs, meta)
    rng = np.random.default_rng(0)
    with open(path, "wb") as f:
        f.write(head)
        f.write((np.arange(rows) % 3).astype(np.int64).tobytes())
        for s in range(0, rows, 1 << 15):
            z = rng.standard_normal((min(1 << 15, rows - s), fields, 8), dtype=np.float32)
            if nan_row is not None and s <= nan_row < s + len(z):
                z[nan_row - s, 0, 0] = np.nan
            f.write(z.tobytes())


def invlatent(*args, **kw) -> subprocess.Popen:
    """The real command in a fresh process (its own memory, killable)."""
    exe = [sys.executable, "-m", "invlatent", *map(str, args)]
    return subprocess.Popen(exe, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def peak_mb(tmp_path, *args) -> float:
    """Peak resident memory (VmHWM, of the command alone) of one ``invlatent`` run."""
    script = tmp_path / "peak.py"
    script.write_text(PEAK)
    r = subprocess.run(
        [sys.executable, str(script), *map(str, args)], capture_output=True, text=True, cwd=ROOT
    )
    assert r.returncode == 0, r.stderr
    return int(r.stderr.split("PEAK_KB")[-1]) / 1024


@pytest.mark.parametrize(
    ("group", "methods"),
    [
        ("c8", ["pool-max", "bispectrum", "canonical", "random-sort"]),
        ("sn", ["sort", "sortembed", "sum"]),
        ("so2:0,1,1,2", ["bispectrum"]),
        ("d4", ["power"]),
    ],
)
def test_streamed_bytes_equal_the_in_memory_projection(cli, tmp_path, group, methods):
    lf = make_synthetic(group, n_samples=3000, seed=2)
    src = tmp_path / "z.st"
    lfm.write(lf, str(src))
    data = src.read_bytes()
    for m in methods:
        want = lfm.dumps(project_latents(lfm.read(str(src)), m, source=str(src)))
        out = tmp_path / f"{m}.st"
        r = cli("project", "-m", m, "--chunk-mb", 1, src, "-o", out)
        assert r.exit_code == 0, r.stderr
        assert out.read_bytes() == want, m
        assert cli("project", "-m", m, "--chunk-mb", 1, src).stdout_bytes == want, m
        piped = cli("project", "-m", m, "-", input=data).stdout_bytes
        assert piped == lfm.dumps(project_latents(lfm.read(str(src)), m, source="-")), m


def test_equivariant_grid_pooling_streams_the_same_bytes(cli, tmp_path, rng):
    from invlatent.groups.action import Action

    z = rng.standard_normal((3000, 2, 4, 6, 6)).astype(np.float32)
    lf = lfm.LatentFile(z=z, action=Action.parse("c4:grid"), labels=np.arange(3000) % 3)
    src = tmp_path / "grid.st"
    lfm.write(lf, str(src))
    for m in ("spatial-mean", "spatial-max"):
        want = lfm.dumps(project_latents(lfm.read(str(src)), m, source=str(src)))
        got = cli("project", "-m", m, "--chunk-mb", 1, src).stdout_bytes
        assert got == want and lfm.loads(got).z.shape == (3000, 2, 4), m


def test_many_small_chunks_give_the_same_bytes_as_one(cli, tmp_path):
    src = tmp_path / "z.st"
    big_c8(src, 40_000)
    one = cli("project", "-m", "bispectrum", src).stdout_bytes
    many = cli("project", "-m", "bispectrum", "--chunk-mb", 1, src).stdout_bytes
    assert len(one) > 1 << 20 and one == many


def test_nan_in_a_late_chunk_leaves_no_output(cli, tmp_path):
    src = tmp_path / "z.st"
    big_c8(src, 20_000, nan_row=19_000)
    out = tmp_path / "out.st"
    r = cli("project", "-m", "pool-max", "--chunk-mb", 1, src, "-o", out)
    assert_one_line_error(r, "z.st", "NaN", "19000")
    assert sorted(os.listdir(tmp_path)) == ["z.st"]
    assert_one_line_error(cli("project", "-m", "pool-max", "--chunk-mb", 1, src), "NaN")


def test_peak_memory_is_bounded_by_the_chunk_and_not_the_file(tmp_path):
    small, big = tmp_path / "small.st", tmp_path / "big.st"
    big_c8(small, 80_000)  # 41 MB
    big_c8(big, 640_000)  # 328 MB, over three times the bound below
    args = ("project", "-m", "pool-max", "--chunk-mb", 2)
    p_small = peak_mb(tmp_path, *args, small, "-o", tmp_path / "a.st")
    p_big = peak_mb(tmp_path, *args, big, "-o", tmp_path / "b.st")
    assert big.stat().st_size > 3 * 96 << 20
    assert p_big < 96, p_big
    assert p_big - p_small < 8, (p_small, p_big)


def test_a_killed_projection_leaves_nothing(tmp_path):
    src = tmp_path / "z.st"
    big_c8(src, 200_000)
    proc = invlatent(
        "project", "-m", "bispectrum", "--chunk-mb", 1, src, "-o", tmp_path / "out.st", cwd=ROOT
    )
    deadline = time.time() + 60
    while _written(proc.pid) < 4 << 20 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert sorted(os.listdir(tmp_path)) == ["z.st"]


def test_a_terminated_sharded_projection_leaves_no_hidden_folder(tmp_path):
    ds = tmp_path / "ds"
    ds.mkdir()
    for k in range(2):
        big_c8(ds / f"part-{k}.st", 100_000)
    args = ("project", "-m", "bispectrum", "--chunk-mb", 1, ds, "-o", tmp_path / "out")
    proc = invlatent(*args, cwd=ROOT)
    deadline = time.time() + 60
    while _written(proc.pid) < 4 << 20 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "finished before it could be stopped"
    assert any(name.endswith(".part") for name in os.listdir(tmp_path))  # it was writing
    proc.send_signal(signal.SIGTERM)
    assert proc.wait() == 143
    assert sorted(os.listdir(tmp_path)) == ["ds"]


def test_a_full_disk_gives_one_line_and_no_file(tmp_path):
    src = tmp_path / "z.st"
    big_c8(src, 50_000)
    limit = lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))  # noqa: E731
    proc = invlatent(
        "project", "-m", "pool-max", src, "-o", tmp_path / "out.st", cwd=ROOT, preexec_fn=limit
    )
    out, err = proc.communicate()
    assert proc.returncode == 2 and out == b""
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("invlatent: error: ")
    assert "out.st" in lines[0] and "too large" in lines[0]
    assert sorted(os.listdir(tmp_path)) == ["z.st"]


def test_a_pipe_of_project_into_inspect_streams(tmp_path):
    src = tmp_path / "z.st"
    big_c8(src, 60_000, action="sn")
    cmd = f"cat {src} | {sys.executable} -m invlatent project -m sort --chunk-mb 2 - "
    r = subprocess.run(
        cmd + f"| {sys.executable} -m invlatent inspect --json -",
        shell=True,
        capture_output=True,
        cwd=ROOT,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    whole = subprocess.run(cmd, shell=True, capture_output=True, cwd=ROOT).stdout
    info = json.loads(r.stdout)
    assert info["size_bytes"] == len(whole)
    assert info["tensors"]["z"]["shape"] == [60_000, 16 * 8]


def test_inspect_refuses_a_truncated_stream(cli, tmp_path):
    src = tmp_path / "z.st"
    big_c8(src, 1000)
    r = cli("inspect", "-", input=src.read_bytes()[:-10])
    assert_one_line_error(r, "<stdin>", "truncated")


def _written(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/io") as f:
            return next(int(x.split()[1]) for x in f if x.startswith("wchar"))
    except (OSError, StopIteration):
        return 0


def test_import_maps_a_npy_file_instead_of_loading_it(cli, tmp_path, rng):
    from invlatent.format.importing import import_arrays

    z = rng.standard_normal((50, 4, 8)).astype(np.float32)
    np.save(tmp_path / "z.npy", z)
    lf = import_arrays(str(tmp_path / "z.npy"), "c8")
    assert isinstance(lf.z, np.memmap) or isinstance(lf.z.base, np.memmap)
    r = cli("import", tmp_path / "z.npy", "--group", "c8", "-o", tmp_path / "z.st")
    assert r.exit_code == 0, r.stderr
    np.testing.assert_array_equal(lfm.read(str(tmp_path / "z.st")).z, z)


def test_viz_and_probe_sample_rows_of_large_files_and_say_so(cli, tmp_path, monkeypatch):
    src = tmp_path / "z.st"
    lfm.write(make_synthetic("c8", n_samples=2000, seed=1), str(src))
    r = cli("viz", "--sample", 300, src, "-o", tmp_path / "v.png")
    assert r.exit_code == 0 and "300 points), sampled from 2,000 rows" in r.stderr
    monkeypatch.setattr("invlatent.analysis.probe._inputs.FEATURE_BYTES", 500 * 64 * 4)
    r = cli("probe", "--json", src)
    assert r.exit_code == 0, r.stderr
    assert "probing a seeded sample of 500 rows" in r.stderr
    assert r.stderr.count("invlatent: warning:") >= 1


@pytest.fixture
def tiny_disk(tmp_path):
    """A 2 MB tmpfs (needs the right to mount; skipped otherwise), unmounted afterwards."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True
    )
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    yield mnt
    subprocess.run(["umount", str(mnt)], check=True)


@pytest.mark.parametrize("command", ["project", "import"])
def test_a_really_full_disk_gives_one_line_and_no_file(cli, tmp_path, tiny_disk, command):
    src = tmp_path / "z.st"
    big_c8(src, 20_000)
    if command == "project":
        r = cli("project", "-m", "power", "--chunk-mb", 1, src, "-o", tiny_disk / "out.st")
    else:
        np.save(tmp_path / "z.npy", lfm.read(str(src)).z)
        r = cli("import", tmp_path / "z.npy", "--group", "c8", "-o", tiny_disk / "out.st")
    assert_one_line_error(r, "out.st", "no space left on device")
    assert os.listdir(tiny_disk) == []
