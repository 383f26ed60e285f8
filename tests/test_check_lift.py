"""`check MODEL DATA --lift cN|dN`: the lifted encoder's equivariance error per element, through
the real CLI, for a plain checkpoint and for TorchScript and ONNX encoders."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from invlatent.pipelines.images.gcnn import GCNN
from invlatent.pipelines.images.models import save_model
from tests.conftest import TINY_BLOCKS, assert_one_line_error, image_config, save_tiny_cnn


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Untrained 16×16 models: a plain CNN (checkpoint and TorchScript) and a C4 group CNN."""
    folder = tmp_path_factory.mktemp("check_lift")
    cnn = save_tiny_cnn(folder / "cnn.pt")
    gcnn = GCNN("c4", 1, 10, TINY_BLOCKS).eval()
    config = image_config("gcnn", blocks=TINY_BLOCKS, group="c4", basis="harmonic")
    save_model(str(folder / "c4.pt"), gcnn, config)
    torch.jit.trace(cnn, torch.rand(2, 1, 16, 16)).save(str(folder / "cnn.ts"))  # logits
    return {"cnn": folder / "cnn.pt", "c4": folder / "c4.pt", "ts": folder / "cnn.ts"}


def _check(cli, *args) -> dict:
    res = cli("check", *args, "--json")
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout)


def _assert_exact_where_quarter_turns(result: dict, order: int, flips: bool) -> None:
    rows = result["rows"]
    angles = [45 * 8 / order * k for k in range(order)]
    assert [r["angle_deg"] for r in rows] == pytest.approx(angles * (2 if flips else 1))
    assert [r["flip"] for r in rows] == [False] * order + [True] * order * flips
    assert [r["exact"] for r in rows] == [a % 90 == 0 for a in angles] * (2 if flips else 1)
    assert all(r["max_relative_error"] <= 1e-6 for r in rows if r["exact"])


def test_lifted_c8_is_exact_for_quarter_turns_and_reports_the_bilinear_error(models, cli):
    result = _check(cli, models["cnn"], "digits:16", "--lift", "c8", "--samples", "12")
    assert result["action"] == "c8" and result["lift"] == "c8" and result["samples"] == 12
    assert result["layer"] == "features" and result["measure"] == "equivariance"
    _assert_exact_where_quarter_turns(result, 8, flips=False)
    assert all(r["relative_error"] > 1e-3 for r in result["rows"] if not r["exact"])
    assert result["max_error_exact"] <= 1e-6 < 1e-3 < result["max_error_elements"]
    table = cli("check", models["cnn"], "digits:16", "--lift", "c8", "--samples", "12")
    assert table.exit_code == 0 and table.stdout_bytes == b""
    lines = table.stderr.strip().splitlines()
    assert "lifted to c8" in lines[0] and len(lines) == 2 + 8
    assert "exact" in lines[1] and lines[3].split()[:5] == ["element", "45.00", "no", "r^1", "no"]


def test_the_plain_cnn_without_lift_is_still_checked_for_invariance(models, cli):
    result = _check(cli, models["cnn"], "digits:16", "--samples", "6")
    assert result["action"] == "trivial" and result["measure"] == "invariance"
    assert len(result["rows"]) == 16 and result["max_error_elements"] > 1e-3
    assert "lift" not in result


def test_same_seed_same_output_and_the_seed_picks_the_images(models, cli):
    args = (models["cnn"], "digits:16", "--lift", "c8", "--samples", "5")
    one, two = (cli("check", *args, "--seed", "4") for _ in range(2))
    assert one.exit_code == 0 and one.stderr == two.stderr
    assert _check(cli, *args, "--seed", "4") == _check(cli, *args, "--seed", "4")
    other = _check(cli, *args, "--seed", "5")
    assert other["rows"] != _check(cli, *args, "--seed", "4")["rows"]


def test_a_torchscript_encoder_lifted_to_d4_is_exact(models, cli):
    result = _check(cli, models["ts"], "digits:16", "--torchscript", "--lift", "d4",
                    "--samples", "6")  # fmt: skip
    assert result["arch"] == "torchscript" and result["action"] == "d4"
    _assert_exact_where_quarter_turns(result, 4, flips=True)


def test_an_onnx_encoder_lifted_to_c8(cli, tmp_path):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Flatten", ["x"], ["z"])],
        "flat",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", 1, 8, 8])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["B", 64])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "flat.onnx"))
    result = _check(cli, tmp_path / "flat.onnx", "digits", "--onnx", "--lift", "c8",
                    "--samples", "6")  # fmt: skip
    _assert_exact_where_quarter_turns(result, 8, flips=False)
    assert all(r["relative_error"] > 1e-3 for r in result["rows"] if not r["exact"])


def test_lifting_a_group_cnn_is_refused_as_encode_refuses_it(models, cli):
    args = (models["c4"], "digits:16", "--lift", "c4")
    res = cli("check", *args)
    assert_one_line_error(res, "already has the action c4", "product action")
    assert res.stderr == cli("encode", *args).stderr


@pytest.mark.parametrize("group", ["c1", "so2", "c4:grid", "sn"])
def test_unknown_lift_groups_are_refused(models, cli, group):
    res = cli("check", models["cnn"], "digits:16", "--lift", group)
    assert_one_line_error(res, f"lift {group!r}: expected cN or dN")


def test_non_square_images_and_misused_options_are_refused(models, cli, tmp_path):
    x = np.random.default_rng(0).random((6, 6, 8)).astype(np.float32)
    np.savez(tmp_path / "wide.npz", x=x, y=np.arange(6) % 2)
    torch.jit.script(torch.nn.Flatten()).save(str(tmp_path / "flat.ts"))
    res = cli("check", tmp_path / "flat.ts", tmp_path / "wide.npz", "--torchscript", "--lift", "c4")
    assert_one_line_error(res, "must be square", "6×8")
    ts = models["ts"]
    assert_one_line_error(cli("check", ts, "digits:16", "--torchscript"), "add --lift")
    assert_one_line_error(cli("check", ts, "digits:16", "--torchscript", "--lift", "c4",
                              "--layer", "block1"), "layer applies to invlatent checkpoints")  # fmt: skip
    assert_one_line_error(
        cli("check", ts, "digits:16", "--torchscript", "--onnx", "--lift", "c4"), "exclude"
    )
    assert_one_line_error(cli("check", ts, "--lift", "c4"), "--lift applies to MODEL DATA")
