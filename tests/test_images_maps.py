"""Group-CNN feature maps as latents (`--layer blockK-map`, action cN:grid / dN:grid)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from invlatent import groups
from invlatent.format import latentfile
from invlatent.groups.action import Action
from invlatent.groups.pixels import rotate_images
from invlatent.pipelines.images.check_model import check_model
from invlatent.pipelines.images.gcnn import GCNN
from tests.conftest import Cli, assert_one_line_error

BLOCKS = [[3, 5, True], [4, 3, False], [4, 3, True], [5, 3, False]]


def _net(group: str) -> GCNN:
    torch.manual_seed(0)
    return GCNN(group, 1, 10, BLOCKS).eval()


def _turn(x: torch.Tensor, action: Action, e: int) -> torch.Tensor:
    """The element r^k f^m on images with torch's own ops: mirror left-right, then rot90 k times."""
    k, m = e % action.order, e // action.order
    x = torch.flip(x, dims=(-1,)) if m else x
    return torch.rot90(x, k * 4 // action.order, dims=(-2, -1))


def _rel(a, b) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize("layer", ["block1-map", "block2-map", "block4-map"])
@pytest.mark.parametrize("group", ["c4", "d4"])
def test_maps_of_turned_images_are_the_turned_maps(group, layer, rng):
    net = _net(group)
    grid = Action.parse(net.layer_action(layer))
    assert str(grid) == f"{group}:grid"
    x = torch.from_numpy(rng.random((3, 1, 16, 16)).astype(np.float32))
    with torch.no_grad():
        base = net.encode(x, layer).numpy()
        assert grid.shape_problem(base.shape) is None
        for e in groups.elements(grid):
            out = net.encode(_turn(x, grid, int(e)), layer).numpy()
            expected = groups.act(grid, base, np.full(len(x), e))[0]
            assert _rel(out, expected) < 1e-5, (layer, e)


def test_maps_average_to_the_pooled_layers(rng):
    net = _net("c4")
    x = torch.from_numpy(rng.random((2, 1, 16, 16)).astype(np.float32))
    with torch.no_grad():
        for k in (1, 2, 3, 4):
            pooled = net.encode(x, f"block{k}").numpy()
            maps = net.encode(x, f"block{k}-map").numpy()
            np.testing.assert_allclose(maps.mean(axis=(-2, -1)), pooled, rtol=1e-5, atol=1e-6)
    sizes = [net.encode(x, f"block{k}-map").shape[-1] for k in (1, 2, 3, 4)]
    assert sizes == [16, 8, 8, 4]


def test_c8_maps_at_45_degrees_are_only_approximately_turned(rng):
    net = _net("c8")
    grid = Action.parse(net.layer_action("block2-map"))
    yy, xx = np.mgrid[:16, :16]
    blob = np.exp(-((yy - 6.0) ** 2 + (xx - 9.0) ** 2) / 6)[None, None].astype(np.float32)
    with torch.no_grad():
        base = net.encode(torch.from_numpy(blob), "block2-map").numpy()
        turned = rotate_images(blob, np.array([np.pi / 4]))
        out = net.encode(torch.from_numpy(turned), "block2-map").numpy()
    err = _rel(out, groups.act(grid, base, np.array([1]))[0])
    assert 1e-3 < err < 1.0


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A tiny C4 group CNN trained for one epoch on sklearn digits (8×8)."""
    path = tmp_path_factory.mktemp("maps") / "c4.pt"
    res = Cli()(
        "train", "gcnn", "--group", "c4", "--widths", "4,6", "--data", "digits",
        "--epochs", "1", "--batch-size", "128", "--lr", "0.01", "-o", path,
    )  # fmt: skip
    assert res.exit_code == 0, res.stderr
    return path


def _encode(cli, model, *args):
    res = cli("encode", model, "digits", "--split", "test", *args)
    assert res.exit_code == 0, res.stderr
    return latentfile.loads(res.stdout_bytes), res.stderr


def test_encode_writes_map_files_whose_action_matches_rotated_inputs(model, cli):
    base, _ = _encode(cli, model, "--layer", "block2-map")
    turned, log = _encode(cli, model, "--layer", "block2-map", "--rotate", "c4", "--seed", 2)
    assert str(turned.action) == "c4:grid" and turned.z.shape == (359, 6, 4, 4, 4)
    assert turned.g_kind == "index" and set(np.unique(turned.g)) == {0, 1, 2, 3}
    assert f"(c4:grid, {turned.z.nbytes / 1e6:.1f} MB)" in log
    expected = groups.act(base.action, np.asarray(base.z, np.float64), np.asarray(turned.g))[0]
    assert _rel(turned.z, expected) < 1e-5


def test_spatial_mean_of_an_encoded_map_is_the_pooled_layer(model, cli, tmp_path):
    maps, _ = _encode(cli, model, "--layer", "block2-map", "--limit", "20")
    pooled, _ = _encode(cli, model, "--layer", "block2", "--limit", "20")
    latentfile.write(maps, str(tmp_path / "maps.st"))
    res = cli("project", tmp_path / "maps.st", "-m", "spatial-mean")
    assert res.exit_code == 0, res.stderr
    out = latentfile.loads(res.stdout_bytes)
    assert out.action == pooled.action
    np.testing.assert_allclose(out.z, pooled.z, rtol=1e-5, atol=1e-6)


def test_check_model_on_a_map_layer_is_exact_for_c4(model):
    result = check_model(str(model), "digits", seed=0, samples=20, device="cpu", layer="block2-map")
    assert result["action"] == "c4:grid" and result["layer"] == "block2-map"
    assert result["max_error_elements"] < 1e-5


def test_unknown_map_layers_are_one_line_errors(model, cli):
    res = cli("encode", model, "digits", "--layer", "block3-map")
    assert_one_line_error(res, "layer 'block3-map'", "block2-map")
    res = cli("check", model, "digits", "--layer", "block3-map")
    assert_one_line_error(res, "layer 'block3-map'")
