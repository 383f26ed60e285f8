"""`invlatent train gcnn|cnn`, `encode` and `check` for images, through the real CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from invlatent.format import latentfile
from invlatent.format.checkpoint import read_config
from invlatent.groups import act
from invlatent.pipelines.images.check_model import check_model, render
from invlatent.pipelines.images.models import load_model
from invlatent.pipelines.images.train import TrainOptions, train
from tests.conftest import Cli, assert_one_line_error

TINY = ["--data", "digits", "--epochs", "2", "--batch-size", "128", "--lr", "0.01"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A tiny C4 group CNN and a tiny plain CNN trained on sklearn digits (8×8)."""
    folder = tmp_path_factory.mktemp("models")
    cli = Cli()
    out = {}
    for name, args in (
        ("c4", ["gcnn", "--group", "c4", "--widths", "4,6"]),
        ("cnn", ["cnn", "--widths", "8,12"]),
    ):
        path = folder / f"{name}.pt"
        res = cli("train", *args, *TINY, "-o", path)
        assert res.exit_code == 0, res.stderr
        out[name] = (path, res)
    return out


def _encode(cli, model, *args):
    res = cli("encode", model, "digits", *args)
    assert res.exit_code == 0, res.stderr
    return latentfile.loads(res.stdout_bytes)


def test_train_writes_a_checkpoint_and_reports_per_epoch(models):
    path, res = models["c4"]
    assert res.stdout_bytes == b""
    lines = res.stderr.strip().splitlines()
    assert lines[0].startswith("epoch 1/2") and lines[1].startswith("epoch 2/2")
    assert "test accuracy" in lines[-1]
    config = read_config(str(path))
    assert config["family"] == "images" and config["arch"] == "gcnn" and config["group"] == "c4"
    assert len(config["history"]) == 2 and 0 <= config["test_accuracy"] <= 1
    assert config["data"]["split_counts"]["test"] == 359


def test_same_seed_gives_the_same_weights(tmp_path, cli):
    args = ["train", "gcnn", "--group", "c4", "--widths", "3,3", *TINY, "--epochs", "1"]
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        assert cli(*args, "--seed", seed, "-o", tmp_path / f"{name}.pt").exit_code == 0
    a, b, c = ((tmp_path / f"{n}.pt").read_bytes() for n in "abc")
    assert a == b and a != c


def test_a_few_epochs_reduce_the_loss():
    opts = TrainOptions(
        arch="gcnn",
        group="c4",
        data="digits",
        epochs=3,
        lr=0.01,
        widths=[6, 8],
        augment="none",
        test_rotate="none",
    )
    _, config = train(opts)
    losses = [row["loss"] for row in config["history"]]
    assert losses[-1] < 0.85 * losses[0]  # 0.79 with shuffled rows, 0.80 in source order


def test_encode_writes_the_file_contract_and_latents_are_equivariant(models, cli):
    path, _ = models["c4"]
    base = _encode(cli, path, "--split", "test")
    turned = _encode(cli, path, "--split", "test", "--rotate", "c4", "--seed", "3")
    assert str(base.action) == "c4" and base.z.shape == (359, 6, 4)
    assert turned.g_kind == "index" and set(np.unique(turned.g)) == {0, 1, 2, 3}
    assert np.array_equal(base.ids, turned.ids) and np.array_equal(base.labels, turned.labels)
    assert (base.extra["split"] == 2).all() and json.loads(base.meta["split_names"])[2] == "test"
    assert base.history[-1]["command"] == "encode" and base.history[-1]["seed"] == 0
    expected = act(base.action, np.asarray(base.z, np.float64), np.asarray(turned.g))[0]
    assert np.linalg.norm(turned.z - expected) / np.linalg.norm(expected) < 1e-5


def test_encode_copies_random_angles_and_other_layers(models, cli):
    path, _ = models["c4"]
    lf = _encode(cli, path, "--limit", "5", "--copies", "3", "--rotate", "random")
    assert lf.z.shape == (15, 6, 4) and lf.g_kind == "angle" and lf.g.dtype == np.float64
    assert np.array_equal(lf.ids, np.repeat(lf.ids[::3], 3)) and len(np.unique(lf.g)) == 15
    inv = _encode(cli, path, "--limit", "5", "--layer", "invariant")
    assert str(inv.action) == "trivial" and inv.z.shape == (5, 6)
    first = _encode(cli, path, "--limit", "5", "--layer", "block1")
    assert first.z.shape == (5, 4, 4)


def test_same_seed_gives_the_same_latent_bytes(models, cli):
    path, _ = models["c4"]
    runs = [
        cli("encode", path, "digits", "--rotate", "random", "--limit", "20", "--seed", s)
        for s in (5, 5, 6)
    ]
    assert runs[0].stdout_bytes == runs[1].stdout_bytes != runs[2].stdout_bytes


def test_checkpoint_round_trip_gives_identical_latents(tmp_path):
    model, config = train(
        TrainOptions(arch="gcnn", group="d4", data="digits", epochs=1, widths=[3, 4])
    )
    from invlatent.pipelines.images.models import save_model

    save_model(str(tmp_path / "m.pt"), model, config)
    loaded, _ = load_model(str(tmp_path / "m.pt"))
    x = torch.rand(7, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(model.encode(x, "block2"), loaded.encode(x, "block2"))
        assert torch.equal(model(x), loaded(x))


def test_plain_cnn_latents_are_trivial_with_angles(models, cli):
    path, _ = models["cnn"]
    lf = _encode(cli, path, "--rotate", "c4", "--limit", "10")
    assert str(lf.action) == "trivial" and lf.z.shape == (10, 12)
    assert lf.g_kind == "angle" and lf.g.dtype == np.float64
    assert set(np.round(np.degrees(lf.g)).astype(int)) <= {0, 90, 180, 270}


def test_check_measures_exact_c4_and_approximate_in_between(models):
    path, _ = models["c4"]
    result = check_model(str(path), "digits", seed=0, samples=40, device="cpu")
    elements = [r for r in result["rows"] if r["kind"] == "element"]
    between = [r for r in result["rows"] if r["kind"] == "between"]
    assert len(elements) == 4 and len(between) == 4
    assert result["max_error_elements"] < 1e-5
    assert min(r["relative_error"] for r in between) > 1e-3
    assert all(r["prediction_agreement"] == 1.0 for r in elements)
    table = render(result)
    assert len(table.splitlines()) == 2 + 8 and "45.00" in table
    json.dumps(result)


def test_check_on_the_plain_cnn_measures_invariance(models):
    path, _ = models["cnn"]
    result = check_model(str(path), "digits", seed=0, samples=20, device="cpu")
    assert result["measure"] == "invariance" and len(result["rows"]) == 16
    assert result["rows"][0]["relative_error"] == 0.0 and result["max_error_elements"] > 1e-3


class _Tiny(torch.nn.Module):
    """A foreign encoder: pooled features per rotation (B, 2, 4)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rots = [torch.rot90(x, k, dims=(2, 3)) for k in range(4)]
        return torch.stack(
            [torch.stack([r.mean((1, 2, 3)), r[:, :, :4].mean((1, 2, 3))], 1) for r in rots], 2
        )


def test_torchscript_and_export_encoders(tmp_path, cli):
    torch.jit.script(_Tiny()).save(str(tmp_path / "enc.ts"))
    lf = _encode(
        cli, tmp_path / "enc.ts", "--torchscript", "--group", "c4", "--limit", "6", "--rotate", "c4"
    )
    assert lf.z.shape == (6, 2, 4) and str(lf.action) == "c4" and lf.g_kind == "index"
    batch = {"x": {0: torch.export.Dim("batch")}}
    ep = torch.export.export(_Tiny(), (torch.rand(2, 1, 8, 8),), dynamic_shapes=batch)
    torch.export.save(ep, str(tmp_path / "enc.pt2"))
    lf2 = _encode(cli, tmp_path / "enc.pt2", "--torchscript", "--group", "c4", "--limit", "6")
    assert lf2.z.shape == (6, 2, 4)
    torch.export.save(
        torch.export.export(_Tiny(), (torch.rand(2, 1, 8, 8),)), str(tmp_path / "fixed.pt2")
    )
    fixed = cli(
        "encode", tmp_path / "fixed.pt2", "digits", "--torchscript", "--group", "c4", "--limit", "3"
    )
    assert_one_line_error(fixed, "the encoder failed on a batch of shape [3, 1, 8, 8]")
    bad = cli("encode", tmp_path / "enc.ts", "digits", "--torchscript", "--group", "c8")
    assert_one_line_error(bad, "does not fit the declared action")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    assert_one_line_error(
        cli("encode", junk, "digits", "--torchscript", "--group", "c4"), "neither"
    )


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--permute", "random"], "--permute applies to molecules"),
        (["--layer", "nope"], "this model has layers"),
        (["--rotate", "sideways"], "rotate 'sideways'"),
        (["--copies", "0"], "--copies"),
        (["--split", "val"], "no 'val' samples"),
        (["--rotate", "random", "--improper"], "--improper is for 3-D molecule models"),
    ],
)
def test_encode_rejects_bad_options(models, cli, args, fragment):
    path, _ = models["c4"]
    assert_one_line_error(cli("encode", path, "digits", *args), fragment)


def test_encode_rejects_data_of_another_shape(models, cli):
    path, _ = models["c4"]
    assert_one_line_error(cli("encode", path, "digits:16"), "the model was trained on [1, 8, 8]")


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["gcnn", "--group", "sn"], "needs cN or dN"),
        (["gcnn", "--augment", "flip"], "--augment"),
        (["cnn", "--widths", "a,b"], "--widths"),
        (["cnn", "--epochs", "0"], "--epochs"),
        (["cnn", "--data", "nowhere.npz"], "no such file"),
    ],
)
def test_train_rejects_bad_options(cli, tmp_path, args, fragment):
    res = cli("train", *args, "-o", tmp_path / "m.pt")
    assert_one_line_error(res, fragment)
    assert not (tmp_path / "m.pt").exists()


def test_train_a_small_gcnn_as_a_process(tmp_path):
    """``python -m invlatent train`` in its own process: quiet stdout, and the loss falls (the
    demo test trains on MNIST)."""
    import subprocess
    import sys

    args = ["train", "gcnn", "--group", "c4", "--data", "digits", "--epochs", "2"]
    args += ["--widths", "6,8", "--lr", "0.01", "-o", str(tmp_path / "m.pt")]
    res = subprocess.run(
        [sys.executable, "-m", "invlatent", *args], capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout == "" and "epoch 2/2" in res.stderr
    history = read_config(str(tmp_path / "m.pt"))["history"]
    assert history[1]["loss"] < history[0]["loss"] and history[1]["test_accuracy"] > 0.15


def test_check_through_the_cli_prints_json_or_a_table(models, cli):
    path, _ = models["c4"]
    res = cli("check", path, "digits", "--samples", "10", "--json")
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["action"] == "c4" and data["samples"] == 10 and data["max_error_elements"] < 1e-5
    table = cli("check", path, "digits", "--samples", "10")
    assert table.exit_code == 0 and table.stdout_bytes == b"" and "r^3" in table.stderr
    assert_one_line_error(cli("check", path, "digits:16"), "the model was trained on")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_a_gpu_is_one_error_line(cli, tmp_path):
    res = cli("train", "cnn", "--data", "digits", "--device", "cuda", "-o", tmp_path / "m.pt")
    assert_one_line_error(res, "no CUDA GPU")
