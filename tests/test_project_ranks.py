"""``project`` on a shard set under torchrun (issue 24 §3), with two ranks simulated by threads
in one process (no torchrun launch): each rank projects its shards, rank 0 writes the manifest,
and the folder equals one process's byte for byte."""

from __future__ import annotations

import itertools
import os
import threading

from invlatent.format import shards, streaming
from invlatent.ranks import Context
from tests.test_shards import make_shards


class ThreadRank(Context):
    """A rank whose barrier is a threading barrier shared by the simulated ranks."""

    def __init__(self, rank: int, world: int, barrier: threading.Barrier):
        super().__init__(rank, world, rank)
        self._barrier = barrier

    def barrier(self) -> None:
        self._barrier.wait(timeout=60)


def _folder_bytes(folder) -> dict[str, bytes]:
    return {f: (folder / f).read_bytes() for f in sorted(os.listdir(folder))}


def test_two_ranks_write_the_folder_one_process_writes(tmp_path, monkeypatch):
    _, ds = make_shards(tmp_path / "ds")
    streaming.project_dataset(
        ds, str(tmp_path / "one"), "power", seed=0, dim=None, key_channel=None
    )
    barrier, ranks = threading.Barrier(2), itertools.count()
    lock, seen = threading.Lock(), []

    def prepare_output(dest, device="cpu"):
        with lock:
            ctx = ThreadRank(next(ranks), 2, barrier)
        return ctx

    real_project_file = streaming.project_file

    def project_file(src, dest, method, **kw):
        with lock:
            seen.append((threading.current_thread().name, os.path.basename(src)))
        return real_project_file(src, dest, method, **kw)

    monkeypatch.setattr(shards, "prepare_output", prepare_output)
    monkeypatch.setattr(streaming, "project_file", project_file)
    monkeypatch.setattr(streaming, "finish", lambda: None)
    errors = []

    def rank():
        try:
            streaming.project_dataset(
                ds, str(tmp_path / "two"), "power", seed=0, dim=None, key_channel=None
            )
        except BaseException as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=rank, name=f"r{i}") for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert _folder_bytes(tmp_path / "two") == _folder_bytes(tmp_path / "one")
    by_thread = {name: sorted(s for n, s in seen if n == name) for name, _ in seen}
    assert sorted(map(len, by_thread.values())) == [1, 2]  # 3 shards: ranks share them
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".two")]
