"""A user's own 3-D encoder (TorchScript, ONNX, the e3nn recipe) on structure files through the
real CLI: encode → project → probe on an .extxyz with properties and an ASE database, check
measuring equivariance (and catching a model that is not equivariant), and one-line errors."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("ase")

import ase.db  # noqa: E402
import torch  # noqa: E402
from ase import Atoms  # noqa: E402

from invlatent.format import latentfile as lfm  # noqa: E402
from invlatent.groups import act  # noqa: E402
from tests.conftest import assert_one_line_error  # noqa: E402
from tests.test_structures import molecules, write_extxyz  # noqa: E402

NODES = "sn*o3:1x0e+1x1o"  # what Centred returns: the atomic number, the centred position


class Centred(torch.nn.Module):
    """Equivariant node features: the atomic number (0e) and the centred position (1o)."""

    def forward(self, positions: torch.Tensor, numbers: torch.Tensor) -> torch.Tensor:
        c = positions - positions.mean(0)
        return torch.cat([numbers.to(torch.float32)[:, None], c], dim=1)


class Squared(torch.nn.Module):
    """Not equivariant: squared coordinates declared as a vector."""

    def forward(self, positions: torch.Tensor, numbers: torch.Tensor) -> torch.Tensor:
        c = positions - positions.mean(0)
        return torch.cat([numbers.to(torch.float32)[:, None], c * c.abs()], dim=1)


class Dipole(torch.nn.Module):
    """One vector per structure (o3:1x0e+1x1o): total charge-like sum and its dipole."""

    def forward(self, positions: torch.Tensor, numbers: torch.Tensor) -> torch.Tensor:
        q = numbers.to(torch.float32)
        c = positions - positions.mean(0)
        return torch.cat([q.sum()[None], (q[:, None] * c).sum(0)])


class OneArgument(torch.nn.Module):
    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        return positions


def script(tmp_path, module) -> Path:
    path = tmp_path / f"{type(module).__name__}.pt"
    torch.jit.script(module).save(str(path))
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """An .extxyz (energy, gap, kind) and an ASE db (energy2, kind) of 40 small molecules."""
    tmp = tmp_path_factory.mktemp("structures")
    frames = molecules(40, seed=3)
    energies = [-5.0 * len(a) + a.info["gap"] for a in frames]
    write_extxyz(tmp / "m.extxyz", frames, energies)
    with ase.db.connect(str(tmp / "m.db")) as db:
        for a, e in zip(frames, energies, strict=True):
            db.write(Atoms(a.numbers, a.positions), energy2=e, kind=a.info["kind"])
    return {"extxyz": tmp / "m.extxyz", "db": tmp / "m.db"}


def _encode(cli, *args) -> lfm.LatentFile:
    r = cli("encode", *args)
    assert r.exit_code == 0, r.stderr
    return lfm.loads(r.stdout_bytes)


@pytest.mark.parametrize(("kind", "target"), [("extxyz", "energy,gap"), ("db", "energy2")])
def test_encode_project_probe_a_torchscript_encoder(cli, tmp_path, files, kind, target):
    model = script(tmp_path, Centred())
    data = files[kind]
    plain = _encode(cli, model, data, "--torchscript", "--group", NODES, "--labels", "kind")
    r = cli(
        "encode", model, data, "--torchscript", "--group", NODES, "--labels", "kind",
        "--rotate", "o3", "--permute", "random", "--seed", 5, "-o", tmp_path / "z.st",
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    posed = lfm.read(str(tmp_path / "z.st"))
    assert posed.ids.tolist() == list(range(40)) and posed.labels.tolist() == plain.labels.tolist()
    assert posed.target_names == plain.target_names and set(target.split(",")) <= set(
        posed.target_names
    )
    assert np.linalg.det(posed.g).min() < 0  # improper elements drawn
    moved, _ = act(
        posed.action, plain.z.astype(np.float64), posed.g, plain.mask, posed.extra["g_perm"]
    )
    np.testing.assert_allclose(posed.z, moved, atol=1e-5)  # the file records what was applied
    r = cli("project", "-m", "norm", tmp_path / "z.st", "-o", tmp_path / "p.st")
    assert r.exit_code == 0, r.stderr
    r = cli("probe", "--task", "ridge", "--target", target, tmp_path / "z.st", tmp_path / "p.st")
    assert r.exit_code == 0, r.stderr
    r = cli("probe", "--target", "nope", tmp_path / "p.st")
    assert_one_line_error(r, "nope", target.split(",")[0])


def test_check_measures_an_equivariant_encoder_and_catches_one_that_is_not(cli, tmp_path, files):
    data = files["extxyz"]
    good = cli("check", script(tmp_path, Centred()), data, "--torchscript", "--group", NODES,
               "--samples", 12, "--json")  # fmt: skip
    assert good.exit_code == 0, good.stderr
    res = json.loads(good.stdout_bytes)
    assert res["samples"] == 12 and len(res["rows"]) == 6 and res["max_error"] < 1e-5
    bad = cli("check", script(tmp_path, Squared()), data, "--torchscript", "--group", NODES,
              "--samples", 12)  # fmt: skip
    assert bad.exit_code == 0, bad.stderr
    rows = {line.split()[0]: line.split() for line in bad.stderr.splitlines()[2:8]}
    assert float(rows["rotation"][4]) > 1e-2  # max relative error under a random rotation
    assert float(rows["permutation"][4]) < 1e-6  # atom order is built in: no error there
    worst = [line for line in bad.stderr.splitlines() if line.startswith("max relative error")]
    assert len(worst) == 1 and f"of {data}" in worst[0]
    graph = cli("check", script(tmp_path, Dipole()), data, "--torchscript", "--group",
                "o3:1x0e+1x1o", "--samples", 8, "--json")  # fmt: skip
    assert json.loads(graph.stdout_bytes)["max_error"] < 1e-5


def test_an_onnx_encoder_of_positions_and_numbers(cli, tmp_path, files):
    from onnx import TensorProto, helper, save

    nodes = [
        helper.make_node("ReduceMean", ["pos"], ["m"], axes=[0], keepdims=1),
        helper.make_node("Sub", ["pos", "m"], ["c"]),
        helper.make_node("Cast", ["numbers"], ["q"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["q", "ax"], ["q1"]),
        helper.make_node("Concat", ["q1", "c"], ["z"], axis=1),
    ]
    graph = helper.make_graph(
        nodes, "centred",
        [helper.make_tensor_value_info("pos", TensorProto.FLOAT, ["n", 3]),
         helper.make_tensor_value_info("numbers", TensorProto.INT64, ["n"])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["n", 4])],
        [helper.make_tensor("ax", TensorProto.INT64, [1], [1])],
    )  # fmt: skip
    path = tmp_path / "centred.onnx"
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    lf = _encode(cli, path, files["extxyz"], "--onnx", "--group", NODES, "--limit", 10)
    ts = _encode(cli, script(tmp_path, Centred()), files["extxyz"], "--torchscript", "--group",
                 NODES, "--limit", 10)  # fmt: skip
    np.testing.assert_allclose(lf.z, ts.z, atol=1e-6)
    r = cli("check", path, files["extxyz"], "--onnx", "--group", NODES, "--samples", 6, "--json")
    assert json.loads(r.stdout_bytes)["max_error"] < 1e-5


@pytest.mark.slow  # 6 s here, most of it importing e3nn (torch._dynamo); 18 s under load
def test_the_e3nn_recipe_is_equivariant_in_its_own_irreps_order(cli, tmp_path, files):
    spec = importlib.util.spec_from_file_location(
        "e3nn_encoder", Path(__file__).parents[1] / "examples" / "e3nn_encoder.py"
    )
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    model = tmp_path / "e3nn.pt"
    recipe.save(str(model))
    group = f"sn*o3:{recipe.IRREPS}"  # 4x0e+2x1o+1x2e+2x0e: unsorted, 0e twice
    r = cli("check", model, files["extxyz"], "--torchscript", "--group", group, "--samples", 2,
            "--json")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout_bytes)["max_error"] < 1e-5
    r = cli("check", model, files["extxyz"], "--torchscript", "--group",
            "sn*o3:2x0e+4x0e+2x1o+1x2e", "--samples", 2, "--json")  # fmt: skip
    assert json.loads(r.stdout_bytes)["max_error"] > 1e-2  # the irreps in another order: wrong


@pytest.mark.parametrize(
    ("model", "group", "fragment"),
    [
        (Centred(), "sn*o3:1x0e+1x1o+1x2e", "atoms); action sn*o3:1x0e+1x1o+1x2e needs z of shape"),
        (Centred(), "o3:1x0e+1x1o", ", 4] for frame"),
        (Centred(), "o3:1x0e+1x1o", "atoms); --group o3:1x0e+1x1o needs [D] per frame"),
        (OneArgument(), NODES, "the model failed on a structure of"),
        (Centred(), "c8", "does not act on 3-D structures"),
        (None, NODES, "neither a TorchScript file nor a torch.export archive"),
    ],
)
def test_bad_models_are_one_line_errors_and_write_nothing(cli, tmp_path, files, model, group,
                                                          fragment):  # fmt: skip
    if model is None:
        path = tmp_path / "junk.pt"
        path.write_bytes(b"not a model")
    else:
        path = script(tmp_path, model)
    out = tmp_path / "z.st"
    data = files["extxyz"]
    r = cli("encode", path, data, "--torchscript", "--group", group, "--limit", 3, "-o", out)
    assert_one_line_error(r, fragment)
    assert not out.exists()
    r = cli("check", path, data, "--torchscript", "--group", group, "--samples", 3)
    assert_one_line_error(r, fragment)


def test_options_a_3d_encoder_does_not_take(cli, tmp_path, files):
    model = script(tmp_path, Centred())
    data = files["extxyz"]
    base = ("encode", model, data, "--torchscript", "--group", NODES)
    assert_one_line_error(cli(*base, "--lift", "c4"), "--lift turns images")
    assert_one_line_error(cli(*base, "--layer", "nodes"), "--layer applies to invlatent")
    assert_one_line_error(cli(*base, "--labels", "gap"), "'gap' holds non-integer values")
    assert_one_line_error(cli(*base, "--rotate", "c8"), "rotate for 3-D molecules")
