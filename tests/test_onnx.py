"""ONNX encoders (onnxruntime, CPU) through `invlatent encode --onnx`, and their one-line errors.

The models are written here with ``onnx.helper``: no shipped binaries, no exporter needed."""

from __future__ import annotations

import numpy as np
import pytest

from invlatent.format import latentfile
from invlatent.groups import act
from invlatent.groups.action import Action
from tests.conftest import assert_one_line_error

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402


def _save(path, nodes, out_shape, in_shape=("B", 1, 8, 8), inits=()) -> str:
    graph = helper.make_graph(
        nodes,
        "encoder",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(in_shape))],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, list(out_shape))],
        initializer=list(inits),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return str(path)


def _pool_encoder(path) -> str:
    """z = [mean, max, top-left-quadrant mean] per image: (B, 3), not rotation invariant."""
    quad = helper.make_tensor("mask", TensorProto.FLOAT, [1, 1, 8, 8],
                              np.kron([[1, 0], [0, 0]], np.ones((4, 4))).ravel().tolist())  # fmt: skip
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["m"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("ReduceMax", ["x"], ["M"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Mul", ["x", "mask"], ["xq"]),
        helper.make_node("ReduceMean", ["xq"], ["q"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Unsqueeze", ["m", "ax"], ["m1"]),
        helper.make_node("Unsqueeze", ["M", "ax"], ["M1"]),
        helper.make_node("Unsqueeze", ["q", "ax"], ["q1"]),
        helper.make_node("Concat", ["m1", "M1", "q1"], ["z"], axis=1),
    ]
    ax = helper.make_tensor("ax", TensorProto.INT64, [1], [1])
    return _save(path, nodes, ["B", 3], inits=[quad, ax])


def _expected(x: np.ndarray) -> np.ndarray:
    return np.stack([x.mean((1, 2, 3)), x.max((1, 2, 3)), x[:, :, :4, :4].sum((1, 2, 3)) / 64], 1)


def _encode(cli, model, *args):
    res = cli("encode", model, "digits", "--onnx", *args)
    assert res.exit_code == 0, res.stderr
    return latentfile.loads(res.stdout_bytes)


def test_onnx_encoder_gives_the_model_outputs_in_input_order(cli, tmp_path):
    from invlatent.pipelines.images.data import load_data

    path = _pool_encoder(tmp_path / "enc.onnx")
    lf = _encode(cli, path, "--group", "trivial", "--limit", "40", "--batch-size", "7")
    x = load_data("digits").x[lf.ids]
    assert lf.z.shape == (40, 3) and str(lf.action) == "trivial"
    assert np.allclose(lf.z, _expected(x), atol=1e-6)
    assert lf.history[0]["options"]["onnx"] is True


def test_onnx_encoder_lifted_to_c4_is_exactly_equivariant(cli, tmp_path):
    path = _pool_encoder(tmp_path / "enc.onnx")
    lf = _encode(cli, path, "--lift", "c4", "--rotate", "c4", "--copies", "4", "--limit", "10")
    assert lf.z.shape == (40, 3, 4) and str(lf.action) == "c4"
    z = lf.z.reshape(10, 4, 3, 4).astype(np.float64)
    g = lf.g.reshape(10, 4)
    base = act(Action.parse("c4"), z[:, 0], -g[:, 0] % 4)[0]  # the object in its source pose
    for c in range(4):
        assert np.allclose(z[:, c], act(Action.parse("c4"), base, g[:, c])[0], atol=1e-6)
    assert not np.allclose(z[..., 0], z[..., 1])  # the quadrant mean moves with the pose


def test_a_file_that_is_not_an_onnx_model_is_refused(cli, tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x08\x07 this is no protobuf of a model")
    out = tmp_path / "z.st"
    res = cli("encode", junk, "digits", "--onnx", "--group", "trivial", "-o", out)
    assert_one_line_error(res, "junk.onnx: not a usable ONNX model")
    assert not out.exists()
    res = cli("encode", tmp_path / "missing.onnx", "digits", "--onnx", "--lift", "c4")
    assert_one_line_error(res, "missing.onnx: no such file")


def test_a_wrong_input_shape_is_refused_before_running(cli, tmp_path):
    path = _save(tmp_path / "big.onnx", [helper.make_node("Flatten", ["x"], ["z"])],
                 ["B", 784], in_shape=("B", 1, 28, 28))  # fmt: skip
    res = cli("encode", path, "digits", "--onnx", "--group", "trivial", "-o", tmp_path / "z.st")
    assert_one_line_error(res, "takes input (B, 1, 28, 28)", "the images are (B, 1, 8, 8)")
    assert not (tmp_path / "z.st").exists()


def test_an_output_whose_shape_changes_with_the_batch_is_refused(cli, tmp_path):
    nodes = [
        helper.make_node("Flatten", ["x"], ["f"]),
        helper.make_node("Transpose", ["f"], ["t"], perm=[1, 0]),
        helper.make_node("MatMul", ["f", "t"], ["z"]),  # (B, B): a Gram matrix of the batch
    ]
    path = _save(tmp_path / "gram.onnx", nodes, ["B", "B"])
    out = tmp_path / "z.st"
    args = ("encode", path, "digits", "--onnx", "--limit", "10", "--batch-size", "4", "-o", out)
    assert_one_line_error(cli(*args, "--group", "trivial"), "rows of shape [2]", "[4]")
    assert not out.exists()
    assert_one_line_error(cli(*args, "--lift", "c4"), "rows of shape [2, 4]", "[4, 4]")


def test_a_model_failing_on_a_batch_and_other_misuse_get_one_line(cli, tmp_path):
    shape = helper.make_tensor("s", TensorProto.INT64, [2], [2, 64])
    fixed = _save(tmp_path / "fixed.onnx", [helper.make_node("Reshape", ["x", "s"], ["z"])],
                  [2, 64], inits=[shape])  # fmt: skip
    res = cli("encode", fixed, "digits", "--onnx", "--group", "trivial", "--limit", "3")
    assert_one_line_error(res, "the encoder failed on a batch of shape [3, 1, 8, 8]")
    pool = _pool_encoder(tmp_path / "enc.onnx")
    assert_one_line_error(cli("encode", pool, "digits", "--onnx"), "--onnx needs --group")
    assert_one_line_error(
        cli("encode", pool, "digits", "--onnx", "--torchscript", "--group", "trivial"),
        "exclude each other",
    )
    assert_one_line_error(
        cli("encode", pool, "digits", "--onnx", "--group", "trivial", "--device", "cuda"),
        "ONNX encoders run on cpu",
    )
    assert_one_line_error(
        cli("encode", pool, "digits", "--torchscript", "--group", "trivial"),
        "an ONNX file; encode it with --onnx",
    )


def test_foreign_file_errors_are_one_line_on_the_real_stderr(tmp_path):
    """Libraries log to the process's stderr (torch.export's traceback for an unreadable file,
    onnxruntime's C++ log for a failing node): only a real process shows it."""
    import subprocess
    import sys

    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    shape = helper.make_tensor("s", TensorProto.INT64, [2], [2, 64])
    node = helper.make_node("Reshape", ["x", "s"], ["z"])
    fixed = _save(tmp_path / "fixed.onnx", [node], [2, 64], inits=[shape])
    for args, fragment in (
        ([junk, "--torchscript", "--group", "c4"], "neither a TorchScript file"),
        ([fixed, "--onnx", "--group", "trivial", "--limit", "3"], "failed on a batch"),
    ):
        cmd = [sys.executable, "-m", "invlatent", "encode", args[0], "digits", *args[1:]]
        res = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 2 and res.stdout == "" and len(lines) == 1, res.stderr
        assert lines[0].startswith("invlatent: error:") and fragment in lines[0]
