"""`encode --lift cN|dN`: any image encoder stacked over the poses of a finite group."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from invlatent.format import latentfile
from invlatent.groups import act
from invlatent.groups.action import Action
from invlatent.groups.pixels import rotate_images
from invlatent.pipelines.images.data import load_data
from invlatent.pipelines.images.lift import group_elements, lifted, measure_lift, pose
from tests.conftest import Cli, assert_one_line_error, save_tiny_cnn


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """An untrained plain CNN (16×16 inputs) and a tiny C4 group CNN, saved as checkpoints."""
    folder = tmp_path_factory.mktemp("lift")
    cnn = save_tiny_cnn(folder / "cnn.pt")
    res = Cli()("train", "gcnn", "--group", "c4", "--widths", "3,3", "--data", "digits",
                "--epochs", "1", "-o", folder / "c4.pt")  # fmt: skip
    assert res.exit_code == 0, res.stderr
    return {"cnn": folder / "cnn.pt", "c4": folder / "c4.pt", "net": cnn}


def _encode(cli, model, *args, data="digits:16"):
    res = cli("encode", model, data, *args)
    assert res.exit_code == 0, res.stderr
    return latentfile.loads(res.stdout_bytes)


def _rel(a, b) -> np.ndarray:
    n = len(a)
    return np.linalg.norm((a - b).reshape(n, -1), axis=1) / np.linalg.norm(b.reshape(n, -1), axis=1)


@pytest.mark.parametrize("group", ["c8", "d8"])
def test_pose_matches_rotate_images(group):
    x = np.random.default_rng(0).random((3, 1, 12, 12)).astype(np.float32)
    for angle, flip in group_elements(Action.parse(group)):
        want = rotate_images(x, np.full(3, angle), np.full(3, flip))
        got = pose(torch.from_numpy(x), angle, flip).numpy()
        if abs(angle / (math.pi / 2) - round(angle / (math.pi / 2))) < 1e-9:
            assert np.array_equal(got, want), (angle, flip)
        else:
            assert np.allclose(got, want, atol=1e-6), (angle, flip)


def test_stack_index_i_holds_f_of_g_inverse_x(models):
    net = models["net"]
    x = torch.from_numpy(load_data("digits:16").x[:5])
    with torch.no_grad():
        z = lifted(lambda t: net.encode(t, "features"), Action.parse("d4"))(x).numpy()
        for i, (angle, flip) in enumerate(group_elements(Action.parse("d4"))):
            inv = -angle if not flip else angle  # r^k ↦ r^-k; r^k f is its own inverse
            xi = rotate_images(x.numpy(), np.full(5, inv), np.full(5, flip))
            want = net.encode(torch.from_numpy(xi), "features").numpy()
            assert np.allclose(z[..., i], want, atol=1e-6), i


@pytest.mark.parametrize("group", ["c4", "d4", "c2", "d2"])
def test_lift_is_exactly_equivariant_for_quarter_turns_and_the_mirror(models, group):
    net, action = models["net"], Action.parse(group)
    x = load_data("digits:16").x[:8]
    run = lifted(lambda t: net.encode(t, "features"), action)
    info = measure_lift(run, x, action, torch.device("cpu"))
    assert len(info["elements"]) == action.group_size
    assert max(e["max_relative_error"] for e in info["elements"]) <= 1e-6
    with torch.no_grad():
        z = run(torch.from_numpy(x)).numpy().astype(np.float64)
        for i, (angle, flip) in enumerate(group_elements(action)):
            xg = rotate_images(x, np.full(8, angle), np.full(8, flip))
            zg = run(torch.from_numpy(xg)).numpy()
            assert _rel(zg, act(action, z, np.full(8, i))[0]).max() <= 1e-6
            assert not np.allclose(zg, z) or i == 0  # the stack does move


def test_cli_lift_c4_on_real_copies_is_exact_and_its_projections_invariant(models, cli):
    lf = _encode(cli, models["cnn"], "--lift", "c4", "--rotate", "c4", "--copies", "4",
                 "--limit", "30", "--seed", "3")  # fmt: skip
    assert lf.z.shape == (120, 8, 4) and str(lf.action) == "c4" and lf.g_kind == "index"
    assert np.array_equal(lf.ids, np.repeat(np.unique(lf.ids), 4))
    from invlatent.projections import project_with_extras

    for method in ("pool-mean", "bispectrum", "canonical"):
        p = project_with_extras(lf.action, lf.z, None, method=method, seed=0)[0]
        p = p.reshape(30, 4, -1).astype(np.float64)
        spread = np.linalg.norm(p - p[:, :1], axis=2).max() / np.linalg.norm(p, axis=2).mean()
        assert spread <= 1e-6, method
    meta = json.loads(lf.meta["lift"])
    assert [e["exact"] for e in meta["elements"]] == [True] * 4
    assert max(e["max_relative_error"] for e in meta["elements"]) <= 1e-6
    report = cli("check", "-", "--json", "-m", "pool-mean", input=latentfile.dumps(lf))
    copies = [e["copies_error"] for e in json.loads(report.stdout)["lift"]["elements"]]
    assert copies[0] is None and all(c is not None and c <= 1e-6 for c in copies[1:])


def test_cli_lift_c8_reports_the_bilinear_elements_error(models, cli):
    lf = _encode(cli, models["cnn"], "--lift", "c8", "--rotate", "c8", "--copies", "3",
                 "--limit", "40")  # fmt: skip
    assert lf.z.shape == (120, 8, 8)
    elements = json.loads(lf.meta["lift"])["elements"]
    assert [e["exact"] for e in elements] == [k % 2 == 0 for k in range(8)]
    assert all(e["max_relative_error"] <= 1e-6 for e in elements if e["exact"])
    assert all(e["mean_relative_error"] > 1e-3 for e in elements if not e["exact"])
    report = cli("check", "-", "-m", "pool-mean", input=latentfile.dumps(lf))
    assert report.exit_code == 0 and "lifted to c8" in report.stderr
    assert "r^1" in report.stderr and "real copies" in report.stderr


def test_lift_of_a_foreign_torchscript_encoder_and_same_seed_same_bytes(models, tmp_path, cli):
    torch.jit.trace(models["net"].eval(), torch.rand(2, 1, 16, 16)).save(
        str(tmp_path / "plain.ts")
    )  # forward: logits
    args = ("--torchscript", "--lift", "d4", "--rotate", "random", "--limit", "12", "--seed", "5")
    one, two = (cli("encode", tmp_path / "plain.ts", "digits:16", *args) for _ in range(2))
    assert one.exit_code == 0 and one.stdout_bytes == two.stdout_bytes
    lf = latentfile.loads(one.stdout_bytes)
    assert lf.z.shape == (12, 10, 8) and str(lf.action) == "d4" and lf.g_kind == "angle"


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--lift", "c1"], "lift 'c1': expected cN or dN"),
        (["--lift", "so2"], "expected cN or dN"),
        (["--lift", "c4:grid"], "expected cN or dN"),
        (["--lift", "sn"], "expected cN or dN"),
    ],
)
def test_unknown_lift_groups_are_refused(models, cli, tmp_path, args, fragment):
    out = tmp_path / "z.st"
    assert_one_line_error(cli("encode", models["cnn"], "digits:16", *args, "-o", out), fragment)
    assert not out.exists()


def test_lifting_an_equivariant_output_is_refused(models, cli, tmp_path):
    out = tmp_path / "z.st"
    res = cli("encode", models["c4"], "digits", "--lift", "c4", "-o", out)
    assert_one_line_error(res, "already has the action c4", "product action")
    assert not out.exists()
    torch.jit.trace(models["net"].eval(), torch.rand(2, 1, 16, 16)).save(str(tmp_path / "plain.ts"))
    res = cli("encode", tmp_path / "plain.ts", "digits:16", "--torchscript", "--group", "c4",
              "--lift", "c4", "-o", out)  # fmt: skip
    assert_one_line_error(res, "already has the action c4")
    assert not out.exists()


def test_lift_on_non_square_images_is_refused(cli, tmp_path):
    x = np.random.default_rng(0).random((6, 6, 8)).astype(np.float32)
    np.savez(tmp_path / "wide.npz", x=x, y=np.arange(6) % 2)
    torch.jit.script(torch.nn.Flatten()).save(str(tmp_path / "flat.ts"))
    out = tmp_path / "z.st"
    res = cli("encode", tmp_path / "flat.ts", tmp_path / "wide.npz", "--torchscript", "--lift",
              "c4", "-o", out)  # fmt: skip
    assert_one_line_error(res, "must be square", "6×8")
    assert not out.exists()
