"""``-o`` onto something that is not a regular file: written in place as a stream, or refused;
never renamed over (``-o /dev/null`` run as root must not replace the system's /dev/null)."""

import os
import socket
import stat
import threading

import pytest
from conftest import assert_one_line_error

from invlatent.format import latentfile as lfm

SAMPLES = os.path.join(os.path.dirname(__file__), "..", "sample_latents")
C8 = os.path.join(SAMPLES, "c8.st")
SN = os.path.join(SAMPLES, "sn.st")


def null_device(path) -> str:
    """A character device like /dev/null at ``path`` (mknod needs root: skipped otherwise)."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("mknod needs root")
    return str(path)


def assert_still_a_device(path) -> None:
    assert stat.S_ISCHR(os.lstat(path).st_mode), "the device was replaced by a file"


@pytest.mark.parametrize(
    "args",
    [
        ("project", "-m", "power", C8),
        ("project", "-m", "power", "--chunk-mb", "1", C8),
        ("project", "-m", "sort", SN),
        ("import", C8, "--group", "c8"),
    ],
    ids=["project", "project-streamed", "project-sort", "import"],
)
def test_output_onto_a_device_writes_through_it(cli, tmp_path, args):
    dev = null_device(tmp_path / "null")
    r = cli(*args, "-o", dev)
    assert r.exit_code == 0, r.stderr
    assert_still_a_device(dev)
    assert sorted(os.listdir(tmp_path)) == ["null"], "a temporary file was left beside it"


def test_a_picture_onto_a_device_writes_through_it(cli, tmp_path):
    dev = null_device(tmp_path / "null.png")
    r = cli("viz", "--method", "pca", C8, "-o", dev)
    assert r.exit_code == 0, r.stderr
    assert_still_a_device(dev)


@pytest.mark.parametrize("chunk", ["64", "1"])
def test_output_into_a_fifo_is_the_same_bytes_as_stdout(cli, tmp_path, chunk):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    r = cli("project", "-m", "bispectrum", "--chunk-mb", chunk, C8, "-o", fifo)
    reader.join(timeout=30)
    assert r.exit_code == 0, r.stderr
    assert not reader.is_alive(), "nothing was written into the FIFO"
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    want = cli("project", "-m", "bispectrum", C8).stdout_bytes
    assert got == [want]


def test_output_onto_a_socket_or_a_folder_is_refused(cli, tmp_path):
    sock = socket.socket(socket.AF_UNIX)
    path = tmp_path / "s"
    sock.bind(str(path))
    try:
        assert_one_line_error(cli("project", "-m", "power", C8, "-o", path), "a socket")
    finally:
        sock.close()
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    assert_one_line_error(cli("project", "-m", "power", C8, "-o", tmp_path), "a folder")


def test_a_shard_set_is_not_written_onto_a_device(cli, tmp_path):
    folder = tmp_path / "shards"
    assert cli("project", "-m", "power", C8, "-o", tmp_path / "one.st").exit_code == 0
    folder.mkdir()
    os.replace(tmp_path / "one.st", folder / "part-00000.st")
    from invlatent.format import shards

    shards.write_manifest(str(folder), ["part-00000.st"], [400], lfm.read(C8).action, [])
    dev = null_device(tmp_path / "null")
    r = cli("project", "-m", "pool-max", folder, "-o", dev)
    assert_one_line_error(r, "not an empty folder")
    assert_still_a_device(dev)


def test_a_link_is_written_through_not_replaced(cli, tmp_path):
    target = tmp_path / "real.st"
    target.write_bytes(b"old")
    link = tmp_path / "link.st"
    link.symlink_to(target)
    assert cli("project", "-m", "power", C8, "-o", link).exit_code == 0
    assert link.is_symlink()
    assert target.read_bytes() == cli("project", "-m", "power", C8).stdout_bytes
