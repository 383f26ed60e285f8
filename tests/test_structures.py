"""Users' structure files through ASE: extxyz with per-frame properties, ASE databases, other
molecular formats, their targets and labels, ``inspect``, and one-line errors for bad input."""

import json

import numpy as np
import pytest

pytest.importorskip("ase")
import ase.db  # noqa: E402
import ase.io  # noqa: E402
from ase import Atoms  # noqa: E402

from invlatent.errors import InvlatentError  # noqa: E402
from invlatent.pipelines.mol3d.data import load_geometries  # noqa: E402
from invlatent.pipelines.mol3d.structures import read_structures  # noqa: E402
from tests.conftest import assert_one_line_error  # noqa: E402


def molecules(count: int, seed: int = 0, size: int | None = None) -> list[Atoms]:
    """``count`` small random molecules (3 to 6 atoms of H, C, N, O, or ``size``) with numeric
    properties."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        n = size or int(rng.integers(3, 7))
        atoms = Atoms(numbers=rng.choice([1, 6, 7, 8], n), positions=rng.normal(0, 1.2, (n, 3)))
        atoms.info.update(gap=float(rng.normal()), kind=int(i % 3), name=f"m{i}", flag=True)
        out.append(atoms)
    return out


def write_extxyz(path, frames: list[Atoms], energies=None) -> None:
    """Frames with ``energy`` stored as ASE writes it (a per-frame result) beside the info."""
    from ase.calculators.singlepoint import SinglePointCalculator

    for i, atoms in enumerate(frames):
        if energies is not None:
            atoms.calc = SinglePointCalculator(atoms, energy=energies[i])
    ase.io.write(str(path), frames, format="extxyz")


def test_extxyz_frames_keep_order_and_numeric_properties_become_targets(tmp_path):
    frames = molecules(7)
    energies = np.linspace(-40.0, -10.0, 7)
    write_extxyz(tmp_path / "m.extxyz", frames, energies)
    geo = load_geometries(str(tmp_path / "m.extxyz"), labels="kind")
    assert geo.ids.tolist() == list(range(7))  # frame indices, file order
    assert set(geo.target_names) == {"energy", "gap", "kind"}  # 'name', 'flag' are no numbers
    col = {k: geo.targets[:, i] for i, k in enumerate(geo.target_names)}
    np.testing.assert_allclose(col["energy"], energies, rtol=1e-6)
    np.testing.assert_allclose(col["gap"], [a.info["gap"] for a in frames], rtol=1e-6)
    assert geo.labels.tolist() == [i % 3 for i in range(7)]
    for r, atoms in enumerate(frames):
        n = len(atoms)
        assert geo.mask[r].sum() == n and not geo.mask[r, n:].any()
        assert geo.species[r, :n].tolist() == atoms.numbers.tolist()
        np.testing.assert_allclose(geo.pos[r, :n], atoms.positions, rtol=1e-6, atol=1e-6)


def test_a_property_missing_from_some_frames_is_no_target(tmp_path):
    frames = molecules(3)
    frames[1].info.pop("gap")
    ase.io.write(str(tmp_path / "m.xyz"), frames, format="extxyz")
    assert read_structures(str(tmp_path / "m.xyz")).target_names == ("kind",)


def test_ase_database_rows_in_id_order_with_key_value_pairs(tmp_path):
    frames = molecules(5, seed=1)
    path = tmp_path / "m.db"
    with ase.db.connect(str(path)) as db:
        for i, atoms in enumerate(frames):
            db.write(Atoms(atoms.numbers, atoms.positions), energy2=float(i) * 2, kind=i % 2)
    geo = load_geometries(str(path), labels="kind")
    assert geo.target_names == ("energy2", "kind")
    np.testing.assert_allclose(geo.targets[:, 0], [0, 2, 4, 6, 8])
    assert geo.labels.tolist() == [0, 1, 0, 1, 0] and geo.ids.tolist() == list(range(5))
    assert geo.species[3, : len(frames[3])].tolist() == frames[3].numbers.tolist()


SDF = """water
  hand

  3  2  0  0  0  0  0  0  0  0999 V2000
    0.0000    0.0000    0.1170 O   0  0  0  0  0  0  0  0  0  0  0  0
    0.0000    0.7570   -0.4690 H   0  0  0  0  0  0  0  0  0  0  0  0
    0.0000   -0.7570   -0.4690 H   0  0  0  0  0  0  0  0  0  0  0  0
  1  2  1  0
  1  3  1  0
M  END
$$$$
"""


@pytest.mark.parametrize("fmt", ["traj", "pdb", "sdf"])
def test_other_molecular_formats(tmp_path, fmt):
    path = tmp_path / f"m.{fmt}"
    if fmt == "sdf":
        path.write_text(SDF)
        frames = [Atoms("OHH", [[0, 0, 0.117], [0, 0.757, -0.469], [0, -0.757, -0.469]])]
    else:
        frames = molecules(2 if fmt == "traj" else 1)  # ASE's PDB writer: one frame is safe
        ase.io.write(str(path), frames)
    geo = read_structures(str(path))
    assert len(geo) == len(frames)
    for r, atoms in enumerate(frames):
        assert geo.species[r, : len(atoms)].tolist() == atoms.numbers.tolist()
        np.testing.assert_allclose(geo.pos[r, : len(atoms)], atoms.positions, atol=2e-3)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("3\nc\nO 0 0 0\nH 0 0 1\n", "ASE cannot read it (XYZError"),
        ("2\nc\nO 0 0 0\nH 0 zero 1\n", "ASE cannot read it (ValueError"),
        ("1\nc\nO 0 0 0\n0\nc\n", "frame 1 has no atoms"),
        ("2\nc\nO 0 0 0\nH nan 0 1\n", "frame 0 has NaN or infinite positions"),
        ('1\nLattice="5 0 0 0 5 0 0 0 5"\nO 0 0 0\n', "frame 0 is periodic"),
        ("", "ASE cannot read it"),
    ],
)
def test_bad_structure_files_are_one_line_errors(tmp_path, text, fragment):
    path = tmp_path / "bad.xyz"
    path.write_text(text)
    with pytest.raises(InvlatentError, match="bad.xyz: ") as err:
        read_structures(str(path))
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_labels_name_an_integer_property(tmp_path):
    write_extxyz(tmp_path / "m.extxyz", molecules(3))
    with pytest.raises(InvlatentError, match=r"no property 'cls' for labels \(it has: gap, kind"):
        load_geometries(str(tmp_path / "m.extxyz"), labels="cls")
    with pytest.raises(InvlatentError, match="'gap' holds non-integer values"):
        load_geometries(str(tmp_path / "m.extxyz"), labels="gap")


def test_inspect_lists_frames_elements_and_targets(cli, tmp_path):
    write_extxyz(tmp_path / "m.extxyz", molecules(4), np.arange(4.0))
    r = cli("inspect", tmp_path / "m.extxyz", "--json")
    assert r.exit_code == 0, r.stderr
    summary = json.loads(r.stdout_bytes)
    assert summary["frames"] == 4 and set(summary["targets"]) == {"energy", "gap", "kind"}
    r = cli("inspect", tmp_path / "m.extxyz")
    assert "targets  energy, gap, kind" in r.stderr
    (tmp_path / "bad.xyz").write_text("3\nc\nO 0 0 0\n")
    assert_one_line_error(cli("inspect", tmp_path / "bad.xyz"), "bad.xyz", "ASE cannot read it")
