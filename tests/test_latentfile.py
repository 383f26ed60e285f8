"""The latent file format: round trips, determinism, compatibility with plain safetensors."""

import json
import os
import struct

import numpy as np
import pytest
from safetensors.numpy import load_file

from invlatent.format import latentfile as lfm
from invlatent.format.latentfile import LatentFile, LatentFileError
from invlatent.format.synthetic import make_synthetic
from invlatent.groups.action import Action

GOLDEN = os.path.join(os.path.dirname(__file__), "data", "golden_c4.st")


def tiny() -> LatentFile:
    """The golden file's content: small, with every optional tensor."""
    z = (np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4) - 10) / 4
    return LatentFile(
        z=z,
        action=Action.parse("c4"),
        labels=np.array([1, 0]),
        targets=np.array([[0.5, 1.5], [2.5, -1.0]], dtype=np.float32),
        target_names=["energy", "gap"],
        g=np.array([3, 1]),
        ids=np.array([7, 8]),
        history=[{"command": "import", "options": {"group": "c4"}, "version": "0.1.0"}],
    )


@pytest.mark.parametrize("group", ["c8", "d4", "so2:0,1,1,2", "sn", "trivial"])
def test_write_read_round_trip(tmp_path, group):
    lf = make_synthetic(group, n_samples=20, seed=1)
    path = tmp_path / "z.st"
    lfm.write(lf, str(path))
    back = lfm.read(str(path))
    assert back.action == lf.action
    for name, arr in lf.tensors().items():
        np.testing.assert_array_equal(back.tensors()[name], arr)
    assert back.history == lf.history


def test_plain_safetensors_reads_the_same_arrays_and_metadata(tmp_path):
    lf = tiny()
    path = str(tmp_path / "z.st")
    lfm.write(lf, path)
    plain = load_file(path)
    assert set(plain) == {"z", "labels", "targets", "g", "ids"}
    for name, arr in lf.tensors().items():
        np.testing.assert_array_equal(plain[name], arr)
    from safetensors import safe_open

    with safe_open(path, "np") as f:
        meta = f.metadata()
    assert meta["format"] == "invlatent/1"
    assert meta["action"] == "c4"
    assert json.loads(meta["targets"]) == ["energy", "gap"]


def test_bytes_are_deterministic_and_independent_of_dict_order():
    a = tiny()
    b = tiny()
    b.meta = {"zeta": "1", "alpha": "2"}
    a.meta = {"alpha": "2", "zeta": "1"}
    assert lfm.dumps(a) == lfm.dumps(b)


def test_bytes_match_the_checked_in_golden_file():
    with open(GOLDEN, "rb") as f:
        assert lfm.dumps(tiny()) == f.read()


def test_header_is_aligned_to_eight_bytes():
    data = lfm.dumps(tiny())
    (n,) = struct.unpack("<Q", data[:8])
    assert (8 + n) % 8 == 0


def test_loads_round_trip():
    lf = lfm.loads(lfm.dumps(tiny()))
    assert lf.target_names == ["energy", "gap"]
    np.testing.assert_array_equal(lf.targets, tiny().targets)


def test_read_is_lazy_memory_mapped(tmp_path):
    path = str(tmp_path / "z.st")
    lfm.write(tiny(), path)
    lf = lfm.read(path)
    assert not lf.z.flags.owndata and not lf.z.flags.writeable


def test_metadata_that_contradicts_tensors_is_refused():
    lf = tiny()
    lf.target_names = ["only_one"]
    with pytest.raises(LatentFileError, match="names 1 targets but the tensor has 2"):
        lfm.loads(lfm.dumps(lf))


def test_unknown_format_version_is_refused():
    lf = tiny()
    data = lfm.dumps(lf).replace(b"invlatent/1", b"invlatent/9")
    with pytest.raises(LatentFileError, match="unsupported format"):
        lfm.loads(data)


def test_group_element_indices_out_of_range_are_refused():
    lf = tiny()
    lf.g = np.array([3, 4])
    with pytest.raises(LatentFileError, match="outside 0..3"):
        lfm.validate(lf, "x")


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    path = tmp_path / "out.st"

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(lfm.os, "replace", boom)
    with pytest.raises(OSError):
        lfm.write(tiny(), str(path))
    assert os.listdir(tmp_path) == []


def test_the_format_documents_python_example_writes_a_readable_file(tmp_path, monkeypatch):
    doc = open(os.path.join(os.path.dirname(__file__), "..", "docs", "format.md")).read()
    example = doc.split("```python\n")[1].split("```")[0]
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "format.md", "exec"), {})
    lf = lfm.read("mine.st")
    assert str(lf.action) == "c8" and lf.z.shape == (100, 16, 8)
