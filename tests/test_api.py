"""The Python API (``import invlatent``): light to import, the CLI's bytes on arrays in memory,
torch tensors kept on their device, foreign action objects converted, bad input refused."""

from __future__ import annotations

import dataclasses
import doctest
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

import invlatent
from invlatent.format.latentfile import LatentFile
from invlatent.format.synthetic import make_synthetic
from invlatent.groups.action import Action
from tests.test_projections import make_batch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI_CASES = [("c8", m) for m in invlatent.methods("c8")] + [
    ("sn", "sort"), ("sn", "max"), ("so2:0,1,2", "bispectrum"), ("o3:2x0e+1x1o+1x2e", "power"),
    ("sn*o3:1x0e+1x1o+1x2e", "norm"), ("c4:grid", "spatial-max"),
]  # fmt: skip


def test_import_is_light_and_every_exported_name_resolves():
    code = "import sys, invlatent; print(sorted(m for m in ('numpy', 'torch', 'sklearn') if m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "[]"
    for name in invlatent.__all__:
        assert getattr(invlatent, name) is not None
    assert set(invlatent.__all__) <= set(dir(invlatent))
    with pytest.raises(AttributeError):
        invlatent.no_such_name  # noqa: B018


@pytest.mark.parametrize("group,method", CLI_CASES)
def test_project_equals_the_cli_bit_for_bit(cli, tmp_path, rng, group, method):
    z, mask = make_batch(group, rng, b=30)
    src, out = tmp_path / "z.st", tmp_path / "p.st"
    invlatent.save(src, LatentFile(z=z, action=Action.parse(group), mask=mask))
    r = cli("project", "-m", method, "--seed", 3, "-o", out, src)
    assert r.exit_code == 0, r.stderr
    mine = invlatent.project(z, group, method, mask=mask, seed=3)
    theirs = np.asarray(invlatent.load(out).z).reshape(len(z), -1)
    assert mine.dtype == theirs.dtype == np.float32
    assert mine.tobytes() == theirs.tobytes()


def test_a_torch_tensor_comes_back_a_tensor_on_its_device_with_the_same_values(rng):
    torch = pytest.importorskip("torch")
    z, mask = make_batch("sn", rng)
    out = invlatent.project(torch.from_numpy(z), "sn", "sort", mask=torch.from_numpy(mask))
    assert isinstance(out, torch.Tensor) and out.device == torch.device("cpu")
    assert out.numpy().tobytes() == invlatent.project(z, "sn", "sort", mask=mask).tobytes()


def test_load_save_round_trip_and_targets_by_name(tmp_path, rng):
    z = rng.standard_normal((6, 2, 4)).astype(np.float32)
    t = rng.standard_normal((6, 2)).astype(np.float32)
    lf = LatentFile(z=z, action=Action.parse("c4"), targets=t, target_names=["a", "b"])
    invlatent.save(tmp_path / "z.st", lf)
    back = invlatent.load(tmp_path / "z.st")
    assert np.array_equal(back.z, z) and str(back.action) == "c4"
    assert np.array_equal(back.named_targets["b"], t[:, 1])
    assert LatentFile(z=z, action=Action.parse("c4")).named_targets == {}


def test_methods_and_guarantees_are_the_registry_tables():
    assert invlatent.methods("sn")[0] == "sort"
    one = invlatent.guarantees("c8", "pool-max")
    assert one["method"] == "pool-max" and one in invlatent.guarantees("c8")


def test_an_e3nn_irreps_is_an_o3_action():
    o3 = pytest.importorskip("e3nn.o3")
    assert str(invlatent.as_action(o3.Irreps("16x0e+8x1o+4x2e"))) == "o3:16x0e+8x1o+4x2e"


class _Cyclic:  # escnn's group classes are named CyclicGroup / DihedralGroup
    def __init__(self, order):
        self._order = order

    def order(self):
        return self._order


class CyclicGroup(_Cyclic):
    pass


class DihedralGroup(_Cyclic):
    pass


def _rep(name, trivial=False):
    return SimpleNamespace(name=name, is_trivial=lambda: trivial)


def _field_type(group, reps):
    """An object with the attributes of an escnn/e2cnn FieldType that the conversion reads."""
    return SimpleNamespace(gspace=SimpleNamespace(fibergroup=group), representations=reps)


def test_a_field_type_of_regular_or_trivial_fields_becomes_cn_dn_or_trivial():
    assert str(invlatent.as_action(_field_type(CyclicGroup(8), [_rep("regular")] * 3))) == "c8"
    assert str(invlatent.as_action(_field_type(DihedralGroup(8), [_rep("regular")]))) == "d4"
    trivial = _field_type(CyclicGroup(8), [_rep("irrep_0", trivial=True)] * 2)
    assert str(invlatent.as_action(trivial)) == "trivial"


@pytest.mark.parametrize(
    "action,fragment",
    [
        (_field_type(CyclicGroup(8), [_rep("regular"), _rep("irrep_1")]), "irrep_1 fields"),
        (_field_type(SimpleNamespace(order=lambda: 4), [_rep("regular")]), "no invlatent family"),
        (3.5, "got float"),
        ("c0x", "c0x"),
    ],
)
def test_an_action_without_a_family_is_one_clear_error(rng, action, fragment):
    with pytest.raises(invlatent.InvlatentError, match=fragment) as e:
        invlatent.project(rng.standard_normal((2, 1, 8)), action, "pool-max")
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    "z,kwargs,fragment",
    [
        (np.zeros((2, 3, 5), np.float32), {}, "z: action c8 needs"),
        (np.zeros((2, 3, 8), np.complex64), {}, "z: dtype complex64"),
        (np.full((2, 3, 8), np.nan, np.float32), {}, "z: holds NaN"),
        ([[1.0] * 8], {}, "z: expected a numpy array"),
        (np.zeros((2, 3, 8), np.float32), {"method": "bogus"}, "unknown method 'bogus'"),
        (np.zeros((2, 3, 8), np.float32), {"dim": 0, "method": "random-max"}, "dim must be"),
    ],
)
def test_bad_input_is_one_invlatent_error_naming_the_argument(z, kwargs, fragment):
    kwargs = {"method": "pool-max", **kwargs}
    with pytest.raises(invlatent.InvlatentError, match=fragment):
        invlatent.project(z, "c8", **kwargs)


def test_a_mask_of_the_wrong_shape_or_type_is_refused(rng):
    z = rng.standard_normal((4, 5, 2)).astype(np.float32)
    with pytest.raises(invlatent.InvlatentError, match="mask has shape"):
        invlatent.project(z, "sn", "sum", mask=np.ones((4, 4), bool))
    with pytest.raises(invlatent.InvlatentError, match="mask: dtype"):
        invlatent.project(z, "sn", "sum", mask=np.ones((4, 5)))


def _timeless(d):
    """A result without its wall-clock fields (``seconds``), which differ from run to run."""
    if isinstance(d, dict):
        return {k: _timeless(v) for k, v in d.items() if k != "seconds"}
    return [_timeless(v) for v in d] if isinstance(d, list) else d


def test_check_probe_and_recommend_in_memory_return_what_json_prints(cli, tmp_path):
    lf = make_synthetic("c2", n_samples=60, fields=2, n_classes=2)
    path = str(tmp_path / "z.st")
    invlatent.save(path, lf)
    r = cli(
        "check", path, "-m", "pool-max", "-m", "power", "--pairs", 200, "--samples", 32, "--json"
    )
    mine = invlatent.check(lf, methods=["pool-max", "power"], pairs=200, samples=32)
    assert _timeless({**mine, "file": path}) == _timeless(json.loads(r.stdout))
    r = cli("probe", path, path, "--folds", 3, "--json")
    assert invlatent.probe([lf, path], folds=3, names=[path, path]) == json.loads(r.stdout)
    unlabelled = dataclasses.replace(lf, labels=None)  # no probe: check alone decides (fast)
    by_array = invlatent.recommend(np.asarray(lf.z), "c2", samples=16, pairs=100)
    assert _timeless(by_array) == _timeless(invlatent.recommend(unlabelled, samples=16, pairs=100))
    assert by_array["method"] in invlatent.methods("c2")


def test_an_array_without_its_action_or_a_bad_object_is_refused():
    with pytest.raises(invlatent.InvlatentError, match="action: an array needs"):
        invlatent.check(np.zeros((4, 2, 4), np.float32))
    with pytest.raises(invlatent.InvlatentError, match="data: expected a LatentFile"):
        invlatent.recommend([1, 2])


def test_the_examples_of_docs_api_md_run():
    result = doctest.testfile(
        os.path.join(ROOT, "docs", "api.md"), module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
    )  # fmt: skip
    assert result.attempted > 0 and result.failed == 0, result
