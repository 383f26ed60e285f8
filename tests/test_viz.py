"""``invlatent viz``: panels, PCA coordinates, orbits, metadata, determinism and errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import assert_one_line_error

from invlatent import groups
from invlatent.analysis.viz import (
    Options,
    Settings,
    group_elements,
    group_orbits,
    read_record,
    render,
)
from invlatent.format import latentfile as lfmod
from invlatent.format.latentfile import LatentFile, make_step
from invlatent.format.synthetic import make_synthetic
from invlatent.groups.action import Action
from invlatent.sampling import sample_rows


def _write(lf: LatentFile, path) -> str:
    lfmod.write(lf, str(path))
    return str(path)


def _synthetic(tmp_path, action: str, name: str | None = None, **kw) -> str:
    return _write(make_synthetic(action, **kw), tmp_path / (name or f"{action.split(':')[0]}.st"))


def _posed_pair(tmp_path, n_objects: int = 30, seed: int = 0) -> tuple[str, str]:
    """Each object stored in all 8 poses (same id) raw under c8, and sorted (invariant) copies."""
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((n_objects, 4, 8)).astype(np.float32)
    z = np.stack([np.roll(base, k, axis=-1) for k in range(8)], axis=1).reshape(-1, 4, 8)
    ids = np.repeat(np.arange(n_objects), 8)
    side = {"labels": ids % 3, "ids": ids, "history": [make_step("made", {})]}
    raw = LatentFile(z=z, action=Action.parse("c8"), g=np.tile(np.arange(8), n_objects), **side)
    inv = LatentFile(
        z=np.sort(z, axis=-1).reshape(len(z), -1), action=Action.parse("trivial"), **side
    )
    return _write(raw, tmp_path / "posed.st"), _write(inv, tmp_path / "posed_inv.st")


def _viz_json(cli, *args) -> dict:
    result = cli("viz", *args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _pca(x: np.ndarray) -> np.ndarray:
    from sklearn.decomposition import PCA

    return PCA(n_components=2).fit(x)


# ------------------------------------------------------------------ images and panels


def test_png_has_one_panel_per_file_and_is_not_blank(cli, tmp_path):
    a, b = _synthetic(tmp_path, "c8"), _synthetic(tmp_path, "so2:0,1,1,2")
    out = tmp_path / "pic.png"
    record = _viz_json(cli, a, b, "-o", out)
    assert [p["file"] for p in record["panels"]] == [a, b]
    import matplotlib.image as mpimg

    pixels = mpimg.imread(out)
    assert pixels.shape[1] > 2 * pixels.shape[0]  # two square-ish panels side by side
    assert pixels[..., :3].std() > 0.05


def test_figure_object_has_titled_panels_and_one_legend(tmp_path):
    files = [_synthetic(tmp_path, "c8"), _synthetic(tmp_path, "d4"), _synthetic(tmp_path, "sn")]
    lfs = [lfmod.read(f) for f in files]
    pic = render(files, lfs, Options(Settings("pca")))
    panels = [ax for ax in pic.figure.axes if ax.collections]
    assert len(panels) == 3
    assert [ax.get_title() for ax in panels] == ["raw c8 · PCA", "raw d4 · PCA", "raw sn · PCA"]
    assert panels[0].get_xlabel().startswith("PC1 (")
    assert len(pic.figure.legends) == 1
    labels = [t.get_text() for t in pic.figure.legends[0].get_texts()]
    assert labels == ["0", "1", "2", "3"]


@pytest.mark.parametrize(("ext", "magic"), [("svg", b"<?xml"), ("pdf", b"%PDF")])
def test_vector_formats_follow_the_extension(cli, tmp_path, ext, magic):
    out = tmp_path / f"pic.{ext}"
    result = cli("viz", _synthetic(tmp_path, "c8"), "-o", out, "--sample", "200")
    assert result.exit_code == 0, result.stderr
    assert out.read_bytes().startswith(magic)
    assert b'"method": "pca"' in out.read_bytes()  # the record is in the metadata
    again = tmp_path / f"again.{ext}"
    assert cli("viz", _synthetic(tmp_path, "c8"), "-o", again, "--sample", "200").exit_code == 0
    assert again.read_bytes() == out.read_bytes()  # no dates, fixed SVG ids


def test_target_colour_bar_is_shared(tmp_path):
    lf = make_synthetic("c8")
    lf.targets = np.arange(len(lf), dtype=np.float32)[:, None]
    lf.target_names = ["size"]
    files = [_write(lf, tmp_path / "a.st"), _write(lf, tmp_path / "b.st")]
    pic = render(files, [lfmod.read(f) for f in files], Options(color="size"))
    assert pic.coloring.kind == "continuous"
    assert (pic.coloring.vmin, pic.coloring.vmax) == (0.0, len(lf) - 1.0)
    assert len(pic.figure.axes) == 3  # two panels and one colour bar


def test_colour_by_angle_uses_a_cyclic_map(tmp_path):
    f = _synthetic(tmp_path, "so2:0,1,1,2")
    pic = render([f], [lfmod.read(f)], Options(color="g"))
    assert pic.coloring.cmap == "twilight"
    assert pic.coloring.vmax == pytest.approx(2 * np.pi)


# ------------------------------------------------------------------ coordinates


def test_pca_coordinates_match_scikit_learn(cli, tmp_path):
    f = _synthetic(tmp_path, "c8")
    emb = tmp_path / "emb.st"
    _viz_json(cli, f, "-o", tmp_path / "p.png", "--embed-out", emb)
    out = lfmod.read(str(emb))
    z = lfmod.read(f).z.reshape(400, -1).astype(np.float64)
    assert out.z.shape == (400, 2) and str(out.action) == "trivial"
    np.testing.assert_allclose(out.z, _pca(z).transform(z), atol=1e-4)
    np.testing.assert_array_equal(out.labels, lfmod.read(f).labels)


def test_sampled_and_standardized_pca_matches_scikit_learn(cli, tmp_path):
    from sklearn.preprocessing import StandardScaler

    f = _synthetic(tmp_path, "d4")
    emb = tmp_path / "emb.st"
    args = ("--sample", "150", "--standardize", "--embed-out", emb)
    _viz_json(cli, f, "-o", tmp_path / "p.png", *args)
    out = lfmod.read(str(emb))
    rows = out.extra["row"]
    assert len(rows) == 150 and len(np.unique(rows)) == 150
    x = StandardScaler().fit_transform(lfmod.read(f).z[rows].reshape(150, -1).astype(np.float64))
    np.testing.assert_allclose(out.z, _pca(x).transform(x), atol=1e-4)


def test_sampling_is_stratified_seeded_and_exact(rng):
    labels = np.repeat([0, 1, 2], [600, 300, 100])
    rows = sample_rows(1000, 100, seed=3, labels=labels)
    assert len(rows) == 100 and len(np.unique(rows)) == 100
    assert np.bincount(labels[rows]).tolist() == [60, 30, 10]
    np.testing.assert_array_equal(rows, sample_rows(1000, 100, seed=3, labels=labels))
    assert not np.array_equal(rows, sample_rows(1000, 100, seed=4, labels=labels))
    np.testing.assert_array_equal(sample_rows(50, 100, seed=0), np.arange(50))


def test_same_seed_gives_same_bytes_and_records_parameters(cli, tmp_path):
    f = _synthetic(tmp_path, "c8")
    outs = []
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        args = (
            "--method",
            "tsne",
            "--epochs",
            "250",
            "--sample",
            "60",
            "--perplexity",
            "10",
            "--seed",
            seed,
        )
        _viz_json(
            cli, f, "-o", tmp_path / f"{name}.png", "--embed-out", tmp_path / f"{name}.st", *args
        )
        outs.append(
            ((tmp_path / f"{name}.png").read_bytes(), (tmp_path / f"{name}.st").read_bytes())
        )
    assert outs[0] == outs[1]
    assert outs[0][1] != outs[2][1]
    params = read_record(str(tmp_path / "a.png"))["panels"][0]["params"]
    assert params == {
        "method": "tsne",
        "seed": 5,
        "perplexity": 10.0,
        "max_iter": 250,
        "solver": "exact",
        "init": "pca",
    }


def test_stdin_is_accepted(cli, tmp_path):
    f = _synthetic(tmp_path, "so2:0,1,1,2")
    with open(f, "rb") as fh:
        result = cli("viz", "-", "-o", tmp_path / "p.png", input=fh.read())
    assert result.exit_code == 0, result.stderr
    assert "panel 1: raw so2:0,1,1,2 · PCA (-, 400 points)" in result.stderr


# ------------------------------------------------------------------ orbits


@pytest.mark.parametrize("group", ["c8", "d4"])
def test_finite_group_orbits_use_every_element(rng, group):
    action = Action.parse(group)
    z = rng.standard_normal((5, 3, action.group_size))
    orb = group_orbits(action, z, None, np.array([1, 4]), size=99, seed=0)
    assert orb.z.shape == (2 * action.group_size, 3, action.group_size)
    for k in range(action.group_size):  # member k is g_k · z[row], g_k the k-th element
        perm = groups.regular_permutations(action)[k]
        np.testing.assert_array_equal(orb.z[orb.element == k], z[[1, 4]][..., perm])
    if group == "c8":  # cyclic elements are plain shifts of the group axis
        np.testing.assert_array_equal(orb.z[orb.element == 3], np.roll(z[[1, 4]], 3, axis=-1))
    assert sorted(set(orb.path.tolist())) == ([0] if group == "c8" else [0, 1])


def test_so2_and_sn_orbit_elements(rng):
    angles = group_elements(Action.parse("so2:1"), 12, rng)
    np.testing.assert_allclose(angles, np.arange(12) * np.pi / 6)
    z = np.array([[1.0, 0.0]])
    orb = group_orbits(Action.parse("so2:1"), z, None, np.array([0]), size=4, seed=0)
    np.testing.assert_allclose(orb.z, [[1, 0], [0, 1], [-1, 0], [0, -1]], atol=1e-12)
    perms = group_elements(Action.parse("sn"), 10, rng, n_nodes=6)
    np.testing.assert_array_equal(perms[0], np.arange(6))
    assert (np.sort(perms, axis=1) == np.arange(6)).all()
    assert len({tuple(p) for p in perms}) > 5


@pytest.mark.parametrize("group", ["o3:2x0e+2x1o+1x2e", "sn*so3:1x0e+1x1o+1x2e"])
def test_rotation_orbits_start_at_the_row_and_stay_on_its_orbit(rng, group):
    from invlatent.projections import project_array

    action = Action.parse(group)
    shape = (3, 4, action.irreps.dim) if action.nodes else (3, action.irreps.dim)
    z = rng.standard_normal(shape).astype(np.float32)
    orb = group_orbits(action, z, None, np.array([0, 2]), size=6, seed=0)
    assert orb.z.shape == (12, *shape[1:]) and not orb.closed
    np.testing.assert_allclose(orb.z[orb.element == 0], z[[0, 2]], atol=1e-6)
    inv = project_array(action, orb.z, method="norm")
    np.testing.assert_allclose(
        inv,
        project_array(action, z[[0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2]], method="norm"),
        atol=1e-5,
    )
    moved = orb.z[orb.obj == 0]
    assert np.abs(moved[1:] - moved[0]).max() > 0.1  # real group elements, not the identity


def test_drawn_orbits_are_the_group_images_placed_by_the_same_pca(cli, tmp_path):
    f = _synthetic(tmp_path, "c8")
    emb = tmp_path / "emb.st"
    record = _viz_json(cli, f, "-o", tmp_path / "p.png", "--orbits", "3", "--embed-out", emb)
    assert record["panels"][0]["orbits"]["members"] == 24
    out, z = lfmod.read(str(emb)), lfmod.read(f).z
    pca = _pca(z.reshape(400, -1).astype(np.float64))
    for k in range(3):
        mine = out.extra["orbit_object"] == k
        start = out.extra["orbit_xy"][mine & (out.extra["orbit_element"] == 0)]
        row = int(np.argmin(np.abs(out.z - start).sum(1)))  # the object's own point
        np.testing.assert_allclose(out.z[row], start[0], atol=1e-5)
        images = np.stack([np.roll(z[row], j, axis=-1).reshape(-1) for j in range(8)])
        order = np.argsort(out.extra["orbit_element"][mine])
        np.testing.assert_allclose(
            out.extra["orbit_xy"][mine][order], pca.transform(images), atol=1e-4
        )


def test_orbits_of_copies_spread_raw_and_collapse_invariant(cli, tmp_path):
    raw, inv = _posed_pair(tmp_path)
    emb = tmp_path / "emb.st"
    record = _viz_json(cli, raw, inv, "-o", tmp_path / "p.png", "--orbits", "4", "--embed-out", emb)
    spread = [p["orbits"]["relative_spread"] for p in record["panels"]]
    assert [p["orbits"]["source"] for p in record["panels"]] == ["ids", "ids"]
    assert spread[0] > 0.3 and spread[1] < 1e-6
    out = lfmod.read(str(emb))
    inv_xy = out.extra["orbit_xy"][out.extra["orbit_panel"] == 1]
    objects = out.extra["orbit_object"][out.extra["orbit_panel"] == 1]
    assert len(inv_xy) == 32
    for k in range(4):
        assert np.ptp(inv_xy[objects == k], axis=0).max() < 1e-5


def test_tsne_places_an_invariant_orbit_on_one_point(tmp_path):
    raw, inv = _posed_pair(tmp_path, n_objects=8)
    files = [raw, inv]
    opts = Options(Settings("tsne", epochs=250), orbits=2)
    pic = render(files, [lfmod.read(f) for f in files], opts)
    assert pic.panels[1].orbit_spread() < 1e-6
    assert pic.panels[0].orbit_spread() > 0.1


@pytest.mark.parametrize(("group", "method"), [("c8", "bispectrum"), ("sn", "sort")])
def test_raw_orbits_are_projected_like_the_projected_panel(cli, tmp_path, group, method):
    raw = _synthetic(tmp_path, group)
    inv = str(tmp_path / "inv.st")
    assert cli("project", raw, "--method", method, "-o", inv).exit_code == 0
    emb = tmp_path / "emb.st"
    args = ("-o", tmp_path / "p.png", "--orbits", "3", "--orbit-size", "6", "--embed-out", emb)
    panels = _viz_json(cli, raw, inv, *args)["panels"]
    assert [p["orbits"]["source"] for p in panels] == ["group", "group+project"]
    assert panels[0]["orbits"]["relative_spread"] > 0.3
    assert panels[1]["orbits"]["relative_spread"] < 1e-6
    assert panels[1]["orbits"]["reprojection_error"] < 1e-5
    out = lfmod.read(str(emb))
    objects = out.extra["orbit_object"][out.extra["orbit_panel"] == 1]
    assert np.bincount(objects).tolist() == [8 if group == "c8" else 6] * 3


def test_a_projection_of_a_file_not_given_is_not_linked(cli, tmp_path):
    raw, other = _synthetic(tmp_path, "c8"), _synthetic(tmp_path, "c8", "other.st", seed=1)
    inv = str(tmp_path / "inv.st")
    assert cli("project", raw, "--method", "power", "-o", inv).exit_code == 0
    result = cli("viz", other, inv, "-o", tmp_path / "p.png", "--orbits", "2")
    assert_one_line_error(result, "inv.st: cannot draw orbits", "not among the inputs")


def test_group_orbits_in_a_panel_nobody_projected_are_refused(cli, tmp_path):
    f = _synthetic(tmp_path, "trivial")
    result = cli("viz", f, "-o", tmp_path / "p.png", "--orbits", "2")
    assert_one_line_error(result, "cannot draw orbits", "trivial")
    assert not (tmp_path / "p.png").exists()


# ------------------------------------------------------------------ errors and hygiene


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("-o", "p.gif"), "use a .png, .svg or .pdf name"),
        (("-o", "p.png", "--method", "mds"), "unknown method 'mds'"),
        (("-o", "p.png", "--color", "weight"), "color 'weight' is not a target"),
        (("-o", "p.png", "--sample", "1"), "--sample must be at least 3"),
        (("-o", "p.png", "--orbits", "2", "--orbit-source", "ids"), "no id occurs more than once"),
        (("-o", "p.png", "--method", "tsne", "--epochs", "50"), "epochs must be at least 250"),
        (("-o", "p.png", "--method", "umap", "--n-neighbors", "1"), "n_neighbors must be at"),
        (("-o", "p.png", "--method", "umap", "--min-dist", "2"), "min_dist must be between"),
        (("-o", "p.png", "--method", "tsne", "--perplexity", "0"), "perplexity must be positive"),
        (
            ("-o", "p.png", "--orbits", "2", "--orbit-source", "all"),
            "orbit_source must be one of",
        ),
    ],
)
def test_bad_options_give_one_line_and_no_file(cli, tmp_path, monkeypatch, args, fragment):
    monkeypatch.chdir(tmp_path)
    result = cli("viz", _synthetic(tmp_path, "c8"), *args)
    assert_one_line_error(result, fragment)
    assert not (tmp_path / "p.png").exists() and not (tmp_path / "p.gif").exists()


def test_missing_labels_are_named(cli, tmp_path):
    lf = make_synthetic("c8")
    lf.labels = None
    f = _write(lf, tmp_path / "nolabels.st")
    assert_one_line_error(cli("viz", f, "-o", tmp_path / "p.png", "--color", "labels"), "no labels")
    assert cli("viz", f, "-o", tmp_path / "p.png").exit_code == 0  # auto: one colour


def test_pca_path_imports_neither_torch_nor_umap(tmp_path):
    f = _synthetic(tmp_path, "c8")
    code = (
        "import sys; from invlatent.cli import app\n"
        f"try: app(['viz', {f!r}, '-o', {str(tmp_path / 'p.png')!r}])\n"
        "except SystemExit: pass\n"
        "print(sorted(m for m in ('torch', 'umap', 'matplotlib.pyplot') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    assert (tmp_path / "p.png").stat().st_size > 10_000


@pytest.mark.slow
def test_umap_is_seeded_records_its_parameters_and_places_orbits(cli, tmp_path):
    f = _synthetic(tmp_path, "c8", n_samples=300)
    args = ("--method", "umap", "--epochs", "30", "--n-neighbors", "10", "--orbits", "2")
    runs = []
    for name in ("a", "b"):
        emb = tmp_path / f"{name}.st"
        record = _viz_json(cli, f, "-o", tmp_path / f"{name}.png", "--embed-out", emb, *args)
        runs.append(lfmod.read(str(emb)))
    params = record["panels"][0]["params"]
    assert params == {
        "method": "umap",
        "seed": 0,
        "n_neighbors": 10,
        "min_dist": 0.1,
        "n_epochs": 30,
    }
    assert read_record(str(tmp_path / "a.png"))["panels"][0]["params"] == params
    assert runs[0].z.shape == (300, 2) and np.isfinite(runs[0].z).all()
    np.testing.assert_array_equal(runs[0].z, runs[1].z)
    assert (
        runs[0].extra["orbit_xy"].shape == (16, 2) and np.isfinite(runs[0].extra["orbit_xy"]).all()
    )


def test_orbit_objects_take_turns_over_classes():
    from invlatent.analysis.viz import choose

    labels = np.repeat([0, 1, 2], [50, 30, 20])
    picked = choose(np.arange(100), 6, seed=1, labels=labels)
    assert np.bincount(labels[picked]).tolist() == [2, 2, 2]
    np.testing.assert_array_equal(picked, choose(np.arange(100), 6, seed=1, labels=labels))


def test_viz_probe_and_limit_share_one_rule_for_class_counts():
    from invlatent.sampling import class_counts

    labels = np.repeat([0, 1, 2], [60, 30, 10])
    for limit in range(1, 100):
        rows = sample_rows(100, limit, seed=0, labels=labels)
        assert (
            np.bincount(labels[rows], minlength=3).tolist()
            == class_counts(np.array([60, 30, 10]), limit).tolist()
        )
