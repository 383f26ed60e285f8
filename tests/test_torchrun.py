"""Training and encoding under torchrun: two CPU processes over loopback, started by the test."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from invlatent.errors import InvlatentError
from invlatent.format import latentfile as lfm
from invlatent.format.shards import read_input
from invlatent.ranks import Context, collective
from tests.conftest import random_molecules

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TORCHRUN = os.path.join(os.path.dirname(sys.executable), "torchrun")
TINY = ["gcnn", "--group", "c4", "--widths", "3,3", "--data", "digits", "--epochs", "2",
        "--batch-size", "64", "--lr", "0.01"]  # fmt: skip


def torchrun(*args, procs: int = 2, timeout: int = 240) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc-per-node PROCS -m invlatent ARGS`` (loopback, free port)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [TORCHRUN, "--standalone", f"--nproc-per-node={procs}", "-m", "invlatent", *args]
    return subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout
    )


def test_shares_cover_every_row_once_in_order():
    for n in (0, 1, 5, 1797):
        for world in (1, 2, 3, 8):
            parts = [np.arange(n)[Context(r, world).share(n)] for r in range(world)]
            np.testing.assert_array_equal(np.concatenate(parts), np.arange(n))


def test_epoch_indices_split_each_epoch_between_ranks():
    ranks = [Context(r, 2).epoch_indices(101, seed=5, epoch=3) for r in range(2)]
    assert len(ranks[0]) == len(ranks[1]) == 51
    assert set(ranks[0]) | set(ranks[1]) == set(range(101))
    other = Context(0, 2).epoch_indices(101, seed=5, epoch=4)
    assert not np.array_equal(ranks[0], other)


def test_collective_names_a_stopped_peer_only_under_torchrun(monkeypatch):
    def fail_inside():
        with collective("training step"):
            raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        fail_inside()
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(InvlatentError, match="training step failed: another rank stopped"):
        fail_inside()


@pytest.mark.slow
def test_training_under_torchrun_is_reproducible_and_only_rank_0_reports(tmp_path):
    args = ("train", *TINY, "--epochs", "1", "--seed", "1")
    runs = [torchrun(*args, "-o", tmp_path / f"m{i}.pt") for i in (0, 1)]
    for r in runs:
        assert r.returncode == 0, r.stderr[-2000:]
        assert r.stderr.count("epoch 1/1") == 1 and r.stderr.count("test accuracy") == 1
    assert (tmp_path / "m0.pt").read_bytes() == (tmp_path / "m1.pt").read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["m0.pt", "m1.pt"]


@pytest.mark.slow
def test_encode_under_torchrun_writes_shards_whose_union_is_the_single_process_file(cli, tmp_path):
    model = tmp_path / "m.pt"
    assert cli("train", *TINY, "--epochs", "1", "-o", model).exit_code == 0
    enc = ["encode", model, "digits", "--rotate", "random", "--copies", "2", "--seed", "3"]
    single = lfm.loads(cli(*enc).stdout_bytes)
    r = torchrun(*enc, "-o", tmp_path / "z")
    assert r.returncode == 0, r.stderr[-2000:]
    assert sorted(os.listdir(tmp_path / "z")) == ["dataset.json", "part-00000.st", "part-00001.st"]
    union = read_input(str(tmp_path / "z"))
    assert union.tensors().keys() == single.tensors().keys()
    for name, arr in single.tensors().items():
        np.testing.assert_array_equal(union.tensors()[name], arr, err_msg=name)
    assert union.history == single.history and union.meta == single.meta


@pytest.mark.slow
def test_a_failing_rank_stops_the_group_and_is_named(tmp_path):
    """Rank 1 gets the bright images, on which this encoder returns one row: an error."""
    x = np.zeros((40, 8, 8), dtype=np.uint8)
    x[:20] = np.random.default_rng(0).integers(0, 100, (20, 8, 8))
    x[20:] = 255
    np.savez(tmp_path / "img.npz", x=x, y=np.arange(40) % 4)

    class Picky(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            z = x.flatten(1)[:, :8]
            return z[:1] if bool(x.amax() > 0.5) else z

    torch.jit.script(Picky()).save(str(tmp_path / "enc.pt"))
    args = ["encode", tmp_path / "enc.pt", tmp_path / "img.npz", "--torchscript"]
    r = torchrun(*args, "--group", "trivial", "-o", tmp_path / "z", timeout=120)
    assert r.returncode != 0
    ours = [line for line in r.stderr.splitlines() if line.startswith("invlatent: error:")]
    assert any(line.startswith("invlatent: error: rank 1: ") for line in ours), r.stderr[-3000:]
    assert "Traceback" not in "\n".join(ours)
    assert sorted(os.listdir(tmp_path)) == ["enc.pt", "img.npz"]


def test_encode_refuses_stdout_under_torchrun(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setattr("invlatent.format.shards.init", lambda device="cpu": Context(1, 2))
    r = cli("encode", tmp_path / "none.pt", "digits")
    assert r.exit_code == 2
    assert r.stderr.strip() == (
        "invlatent: error: rank 1: under torchrun each rank writes a shard: give -o FOLDER"
    )


@pytest.mark.slow
def test_graph_vae_trains_and_encodes_under_torchrun(cli, tmp_path):
    smiles = ["CC(C)O", "c1ccccc1", "[NH3+]CC(=O)[O-]", "OC1C2CC1O2", "C#CC(=O)NC", "CCOC=O"]
    smi = tmp_path / "mols.smi"
    smi.write_text("\n".join(smiles * 6) + "\n")
    model = tmp_path / "vae.pt"
    args = ["--data", smi, "--epochs", "2", "--hidden", "16", "--batch-size", "8", "--threads", "1"]
    r = torchrun("train", "graph-vae", *args, "-o", model)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stderr.count("epoch 2/2") == 1 and r.stderr.count("wrote") == 1
    enc = ["encode", model, smi, "--permute", "random", "--seed", "4"]
    r = torchrun(*enc, "-o", tmp_path / "z")
    assert r.returncode == 0, r.stderr[-2000:]
    single = lfm.loads(cli(*enc).stdout_bytes)
    union = read_input(str(tmp_path / "z"))
    for name, arr in single.tensors().items():
        np.testing.assert_array_equal(union.tensors()[name], arr, err_msg=name)


def _molecule_npz(path, n: int = 40) -> None:
    """Random 3-9 atom H/C/N/O point clouds whose target is a sum over their atoms."""
    pos, species, _ = random_molecules(n)
    np.savez(path, pos=pos, species=species, targets=species.sum(1) / 10.0)


MOL3D = ["--targets", "t0", "--epochs", "2", "--irreps", "4x0e+1x1o", "--layers", "1",
         "--batch-size", "8", "--max-minutes", "0", "--threads", "1", "--seed", "2"]  # fmt: skip


def _weights_and_config(path) -> tuple[dict, dict]:
    """A checkpoint's weights and its config less the wall-clock seconds of its history."""
    from invlatent.format.checkpoint import load_checkpoint

    state, config = load_checkpoint(str(path))
    for rec in config["history"]:
        rec.pop("seconds")
    return state, config


def _assert_same_run(a, b) -> None:
    (sa, ca), (sb, cb) = _weights_and_config(a), _weights_and_config(b)
    assert sa.keys() == sb.keys() and ca == cb
    for name in sa:
        assert sa[name].tobytes() == sb[name].tobytes(), name


def test_mol3d_one_process_takes_the_plain_path_and_is_reproducible(cli, monkeypatch, tmp_path):
    pytest.importorskip("e3nn")

    def refuse(*args, **kwargs):
        raise AssertionError("one process must not start a process group or DDP")

    monkeypatch.setattr("torch.distributed.init_process_group", refuse)
    monkeypatch.setattr("torch.nn.parallel.DistributedDataParallel", refuse)
    _molecule_npz(tmp_path / "mols.npz")
    for i in (0, 1):
        r = cli("train", "mol3d", "--data", tmp_path / "mols.npz", *MOL3D, "-o", tmp_path / f"{i}")
        assert r.exit_code == 0, r.stderr
    _assert_same_run(tmp_path / "0", tmp_path / "1")
    cfg = _weights_and_config(tmp_path / "0")[1]
    assert "processes" not in cfg["train"]
    assert cfg["history"][-1]["molecules_seen"] == cfg["history"][-1]["steps"] * 8


@pytest.mark.slow
def test_mol3d_trains_under_torchrun_reproducibly_and_only_rank_0_writes(cli, tmp_path):
    pytest.importorskip("e3nn")
    _molecule_npz(tmp_path / "mols.npz")
    for i in (0, 1):
        r = torchrun("train", "mol3d", "--data", tmp_path / "mols.npz", *MOL3D, "-o",
                     tmp_path / f"m{i}.pt")  # fmt: skip
        assert r.returncode == 0, r.stderr[-2000:]
        assert r.stderr.count("mol3d e3nn:") == r.stderr.count("test MAE") == 1, r.stderr
        assert r.stderr.count("epoch 2.00/2") == r.stderr.count("wrote") == 1, r.stderr
    assert sorted(os.listdir(tmp_path)) == ["m0.pt", "m1.pt", "mols.npz"]
    _assert_same_run(tmp_path / "m0.pt", tmp_path / "m1.pt")
    cfg = _weights_and_config(tmp_path / "m0.pt")[1]
    last = cfg["history"][-1]
    per_rank = -(-cfg["data"]["train"] // 2)
    assert cfg["train"]["processes"] == 2 and last["steps"] == 2 * -(-per_rank // 8)
    assert last["molecules_seen"] == last["steps"] * 8 * 2
    r = cli("encode", tmp_path / "m0.pt", tmp_path / "mols.npz", "--layer", "graph")
    assert r.exit_code == 0, r.stderr
    z = lfm.loads(r.stdout_bytes).z
    assert len(z) == 40 and np.isfinite(z).all()
