"""The recipes under examples/ run: e2cnn regular fields as cN latents (their GroupPooling is
pool-max), a plain CNN lifted to c4, the NequIP wrapper around a stand-in with a deployed
model's interface (the e3nn recipe runs in test_mol3d_foreign.py)."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

import torch  # noqa: E402

from invlatent.format import latentfile as lfm  # noqa: E402
from invlatent.groups import act  # noqa: E402

EXAMPLES = Path(__file__).parents[1] / "examples"


def recipe(name: str):
    """Import ``examples/NAME.py`` as a module."""
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _encode(cli, *args) -> lfm.LatentFile:
    r = cli("encode", *args)
    assert r.exit_code == 0, r.stderr
    return lfm.loads(r.stdout_bytes)


@pytest.mark.slow  # importing e2cnn takes 5-8 s on the shared 2-core machine
def test_e2cnn_regular_fields_are_c4_latents_and_group_pooling_is_pool_max(cli, tmp_path):
    if importlib.util.find_spec("e2cnn") is None:
        pytest.skip("e2cnn is not installed (pip install e2cnn; the test set-up installs it)")
    from e2cnn import nn as enn

    rc = recipe("e2cnn_regular")
    model = tmp_path / "e2cnn.pt"
    net = rc.save(str(model))
    args = (model, "digits", "--torchscript", "--group", "c4", "--limit", 24)
    upright = _encode(cli, *args)
    turned = _encode(cli, *args, "--rotate", "c4", "--seed", 3)
    assert set(turned.g.tolist()) == {0, 1, 2, 3}
    moved = act(turned.action, upright.z, turned.g)
    moved = moved[0] if isinstance(moved, tuple) else moved
    np.testing.assert_allclose(turned.z, moved, atol=1e-5)  # e2cnn's layout is invlatent's c4
    (tmp_path / "z.st").write_bytes(lfm.dumps(turned))
    r = cli("project", "-m", "pool-max", tmp_path / "z.st")
    assert r.exit_code == 0, r.stderr
    pooled = lfm.loads(r.stdout_bytes).z
    b, f, n = turned.z.shape
    field = enn.GeometricTensor(torch.from_numpy(turned.z.reshape(b, f * n, 1, 1)), net.out_type)
    expected = enn.GroupPooling(net.out_type)(field).tensor.reshape(b, f).numpy()
    np.testing.assert_allclose(pooled, expected, rtol=1e-6)


def test_a_plain_cnn_lifted_to_c4(cli, tmp_path):
    model = tmp_path / "cnn.pt"
    recipe("plain_cnn_lift").save(str(model))
    r = cli("check", model, "digits", "--torchscript", "--lift", "c4", "--samples", 8, "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout_bytes)["max_error_exact"] <= 1e-6
    lf = _encode(cli, model, "digits", "--torchscript", "--lift", "c4", "--limit", 12)
    assert str(lf.action) == "c4" and lf.z.shape == (12, 16, 4)


class DeployedStandIn(torch.nn.Module):
    """NequIP's deployed interface (a dict with pos, edge_index, atom_types in; node_features
    out): the type index as 0e and the sum of edge vectors as 1o."""

    def forward(self, data: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        e, p = data["edge_index"], data["pos"]
        vectors = torch.zeros(p.shape[0], 3).index_add(0, e[0], p[e[1]] - p[e[0]])
        return {"node_features": torch.cat([data["atom_types"][:, None].float(), vectors], 1)}


def test_the_nequip_wrapper_builds_the_dict_a_deployed_model_takes(cli, tmp_path):
    pytest.importorskip("ase")
    from tests.test_structures import molecules, write_extxyz

    rc = recipe("nequip_encoder")
    inner = torch.jit.script(DeployedStandIn())
    model = tmp_path / "nequip.pt"
    torch.jit.script(rc.NequipEncoder(inner, 4.0, {1: 0, 6: 1, 7: 2, 8: 3})).save(str(model))
    write_extxyz(tmp_path / "m.extxyz", molecules(10))
    r = cli("check", model, tmp_path / "m.extxyz", "--torchscript", "--group",
            "sn*o3:1x0e+1x1o", "--samples", 4, "--json")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout_bytes)["max_error"] < 1e-5
