"""Measured invariance and information retention of projections on a real latent file.

For each method π, on a seeded sample of the file:

- ``invariance_error``: max over rows of ||π(g·z) - π(z)|| for random g, divided by the mean
  ||π(z)|| (so rows with tiny outputs do not blow it up);
- ``orbit_distance`` (cross sections only): max quotient distance between π(z), read back in
  z's layout, and z, divided by the mean ||z||; zero when π(z) lies on the orbit of z;
- ``spearman``: rank correlation between exact quotient distances d([z_i], [z_j]) and projected
  distances ||π(z_i) - π(z_j)|| on random pairs;
- ``trustworthiness``: of the projected sample's neighbourhoods w.r.t. quotient distances;
- ``collisions``: pairs of distinct orbits (d > 1e-3 × median) mapped to the same point
  (||Δπ|| ≤ 1e-6 × median);
- ``copies_spread`` (files whose ``ids`` repeat, e.g. ``encode --copies K``): the same
  invariance measured on *real* transformed inputs instead of the latent action. Per object,
  the max over its copies of ||π(z_c) - mean_c π(z_c)||, averaged over objects and divided by
  the mean ||π(z)||. It includes everything the latent action does not: an encoder that is
  only approximately equivariant, interpolation of rotated pixels;
- ``equivariance_error`` (equivariant methods only: the grid poolings ``spatial-*``, whose
  output keeps the group): max over rows of ||π(g·z) - g·π(z)|| for the same random g, divided
  by the mean ||π(z)||. For these ``copies_spread`` is measured on g⁻¹·π(z_c) (copies with an
  element index in ``g``; None otherwise);
- ``seconds``: time to project the sample once;
- ``degenerate_frames`` (o3 ``canonical`` only): sampled rows whose frame the content could not
  fix (``canon_rank`` < 3); the projection is invariant there only when the sample itself is
  symmetric (e.g. collinear vectors), not when the frame vectors are merely missing.

O(3)/SO(3) files (``o3``, ``so3``, ``sn*o3``, ``sn*so3``) get their quotient distances from
``invlatent.groups.quotient_o3``: exact for irreps of l <= 1, otherwise upper bounds by
optimisation; ``quotient`` says which. As those cost milliseconds per pair, at most
``O3_SAMPLES`` rows and ``O3_PAIRS`` pairs are used (the counts are in the result).

Fields on a grid (``cN:grid``/``dN:grid``) act exactly only for quarter turns and the mirror;
other elements interpolate the grid. So their check also lists every element (``elements``:
angle, flip, whether it is exact, and the ``round_trip`` error max ||g⁻¹·(g·z) - z|| / ||z||
of the interpolated action itself), and each method gets ``per_element``: the invariance (or
equivariance) error of that element applied to every sampled row. The random-g errors above
include the interpolated elements too.

Measuring returns numbers; tests assert on them with their own tolerances.
"""

from __future__ import annotations

import json
import time

import numpy as np

from invlatent import groups
from invlatent.errors import InvlatentError
from invlatent.groups import quotient_o3
from invlatent.groups.quotient import pairwise, quotient_distance
from invlatent.projections import get_method, methods_for, project_with_extras

N_NEIGHBORS = 10
# The one tolerance on measured invariance / equivariance errors (relative): what `recommend`
# accepts as invariant and what `invlatent.testing` asserts by default. float32 rounding of the
# exact methods stays below 1e-5; the margin covers longer sums and other BLAS builds.
INVARIANCE_TOLERANCE = 1e-4
O3_SAMPLES = {False: 128, True: 48}  # o3/so3, sn*o3/sn*so3
O3_PAIRS = 300


def check_file(lf, methods=None, *, pairs: int = 2000, samples: int = 256, seed: int = 0) -> dict:
    """Measure every method (default: all for the file's action); a JSON-ready dict."""
    methods = list(methods or methods_for(lf.action))
    for m in methods:
        get_method(lf.action, m)
    rng = np.random.default_rng(seed)
    if lf.action.family.optimised_quotient:  # milliseconds a pair: fewer of them
        samples, pairs = min(samples, O3_SAMPLES[lf.action.nodes]), min(pairs, O3_PAIRS)
    data = _Sample(lf, rng, samples, pairs)
    rows = [measure(data, m, seed) for m in methods]
    result = {
        "action": str(lf.action),
        "rows": len(lf),
        "samples": len(data.z),
        "pairs": len(data.dq),
        "seed": seed,
        "methods": rows,
    }
    if lf.action.family.optimised_quotient:
        result["quotient"] = quotient_o3.method(lf.action)
    if lf.action.grid:
        result["elements"] = grid_elements(data)
        for row in rows:
            row["per_element"] = per_element(data, row["method"], seed)
    if "lift" in lf.meta:
        result["lift"] = lift_elements(lf, rng, samples)
    return result


def lift_elements(lf, rng, samples: int) -> dict:
    """A lifted file (``encode --lift``): the encoder's per-element equivariance error measured
    at encode time, and the same on the file's real copies where an object has an identity copy:
    ``‖z(g·x) − g·z(x)‖ / ‖z(x)‖`` per element g, mean over the copies (None where none)."""
    info = json.loads(lf.meta["lift"])
    copies = _identity_pairs(lf, rng, samples)
    for e in info["elements"]:
        e["copies_error"] = copies.get(e["element"])
    return info


def _identity_pairs(lf, rng, samples: int) -> dict[int, float]:
    """Per element index: mean relative error of copies against g·(their identity copy)."""
    if lf.ids is None or lf.g is None or (lf.g_kind or lf.action.g_kind) != "index":
        return {}
    ids, g = np.asarray(lf.ids), np.asarray(lf.g, dtype=np.int64)
    ref_ids, ref_rows = np.unique(ids[g == 0], return_index=True)
    ref_rows = np.flatnonzero(g == 0)[ref_rows]
    if len(ref_ids) > samples:
        keep = np.sort(rng.choice(len(ref_ids), size=samples, replace=False))
        ref_ids, ref_rows = ref_ids[keep], ref_rows[keep]
    rows = np.flatnonzero(np.isin(ids, ref_ids) & (g != 0))
    if not len(rows):
        return {}
    ref = np.asarray(lf.z[ref_rows[np.searchsorted(ref_ids, ids[rows])]], dtype=np.float64)
    moved = groups.act(lf.action, ref, g[rows])[0]
    z = np.asarray(lf.z[rows], dtype=np.float64)
    rel = np.linalg.norm((z - moved).reshape(len(rows), -1), axis=1) / np.maximum(
        np.linalg.norm(ref.reshape(len(rows), -1), axis=1), 1e-30
    )
    return {int(k): float(rel[g[rows] == k].mean()) for k in np.unique(g[rows])}


class _Sample:
    """The sampled rows, their transformed copies, random pairs and exact quotient distances."""

    def __init__(self, lf, rng, samples, pairs):
        self.action, b = lf.action, len(lf)
        sub = np.sort(rng.choice(b, size=min(samples, b), replace=False))
        self.z, self.mask = _rows(lf, sub)
        n = self.z.shape[1] if self.action.has_nodes else 0
        self.g = g = groups.sample(self.action, len(sub), rng, n)
        self.gz, self.gmask = groups.act(self.action, self.z, g, self.mask)
        i, j = rng.integers(0, b, size=(2, pairs if b > 1 else 0))
        keep = i != j
        self.zi, self.mi = _rows(lf, i[keep])
        self.zj, self.mj = _rows(lf, j[keep])
        self.dq = quotient_distance(self.action, self.zi, self.zj, self.mi, self.mj)
        self.dq_sub = pairwise(self.action, self.z, self.mask)
        if not (np.isfinite(self.dq).all() and np.isfinite(self.dq_sub).all()):
            raise InvlatentError("distances between these latents overflow: rescale them")
        self.copies, self.copy_group, self.copy_g = _copies(lf, rng, samples)


def _copies(lf, rng, samples):
    """Rows of up to ``samples`` objects that occur several times (same id), their groups, and
    their element indices (None unless ``g`` holds indices)."""
    if lf.ids is None:
        return None, None, None
    ids = np.asarray(lf.ids)
    _, inverse, counts = np.unique(ids, return_inverse=True, return_counts=True)
    repeated = np.flatnonzero(counts > 1)
    if not len(repeated):
        return None, None, None
    chosen = rng.choice(repeated, size=min(samples, len(repeated)), replace=False)
    rows = np.flatnonzero(np.isin(inverse, chosen))
    index = lf.g is not None and (lf.g_kind or lf.action.g_kind) == "index"
    g = np.asarray(lf.g[rows], dtype=np.int64) if index else None
    return _rows(lf, rows), np.unique(inverse[rows], return_inverse=True)[1], g


def _rows(lf, idx):
    z = np.asarray(lf.z[idx], dtype=np.float32)
    return z, (None if lf.mask is None else np.asarray(lf.mask[idx], dtype=bool))


def invariance_error(p: np.ndarray, pg: np.ndarray) -> float:
    """The invariance error of a projection: max over rows of ||π(g·z) − π(z)||, relative to the
    mean ||π(z)||. The one definition: ``check``'s table, the recommendation's threshold and the
    tests all use it."""
    return float(np.linalg.norm(pg - p, axis=1).max(initial=0.0) / _scale(p))


def _scale(p: np.ndarray) -> float:
    return max(float(np.linalg.norm(p, axis=1).mean()), 1e-30)


def measure(data: _Sample, method: str, seed: int = 0) -> dict:
    """All measurements of one method on a prepared sample."""
    run = lambda z, m: project_with_extras(data.action, z, m, method=method, seed=seed)  # noqa: E731
    start = time.perf_counter()
    p, extras = run(data.z, data.mask)
    seconds = time.perf_counter() - start
    if not np.isfinite(p).all():
        raise InvlatentError(f"the projection {method} overflows on these latents: rescale them")
    pg, _ = run(data.gz, data.gmask)
    scale = _scale(p)
    dp = np.linalg.norm(run(data.zi, data.mi)[0] - run(data.zj, data.mj)[0], axis=1)
    info = get_method(data.action, method)
    out_action = info.output_action(data.action)
    equi = None
    if info.equivariant:
        equi = float(_equivariance(out_action, p, pg, data.g).max(initial=0.0) / scale)
    return {
        "method": method,
        "invariant": info.invariant,
        "dim": int(p.shape[1]),
        "invariance_error": invariance_error(p, pg),
        "equivariance_error": equi,
        "orbit_distance": _orbit_distance(data, p, extras) if info.cross_section else None,
        "spearman": _spearman(data.dq, dp),
        "trustworthiness": _trustworthiness(data.dq_sub, p),
        "collisions": _collisions(data, p, dp),
        "copies_spread": _copies_spread(data, run, scale, out_action),
        "seconds": round(seconds, 5),
        "degenerate_frames": _degenerate(extras),
    }


def _degenerate(extras) -> int | None:
    """Sampled rows whose canonical frame the content could not fix (o3 ``canon_rank`` < 3)."""
    rank = extras.get("canon_rank")
    return None if rank is None else int((np.asarray(rank) < 3).sum())


def _equivariance(out_action, p, pg, g) -> np.ndarray:
    """Per row ||π(g·z) - g·π(z)|| for flattened outputs of an equivariant method."""
    expected = groups.act(out_action, p.reshape(len(p), -1, out_action.group_size), g)[0]
    return np.linalg.norm(pg - expected.reshape(p.shape), axis=1)


def grid_elements(data: _Sample) -> list[dict]:
    """Every element of a grid action: its name, angle, flip, exactness and round-trip error."""
    action, z = data.action, data.z.astype(np.float64)
    exact = groups.exact_elements(action)
    size = max(float(np.linalg.norm(z.reshape(len(z), -1), axis=1).mean()), 1e-30)
    return [_element_row(action, z, int(e), bool(exact[e]), size) for e in groups.elements(action)]


def _element_row(action, z, e: int, exact: bool, size: float) -> dict:
    """One element: name, angle, flip, exactness and max ||g⁻¹·(g·z) - z|| / mean ||z||."""
    angle, flip = groups.grid_element(action, e)
    there = groups.transform_grid(action, z, e)
    back = groups.transform_grid(action, there, int(groups.inverse(action, e)))
    err = np.linalg.norm((back - z).reshape(len(z), -1), axis=1).max(initial=0.0) / size
    return {
        "element": e,
        "name": _element_name(action, e),
        "angle_deg": round(float(np.degrees(angle)), 4),
        "flip": flip,
        "exact": exact,
        "round_trip": float(err),
    }


def per_element(data: _Sample, method: str, seed: int = 0) -> list[float]:
    """For each element g (in index order): the error of π on g·z for every sampled row."""
    info = get_method(data.action, method)
    out_action = info.output_action(data.action)
    p = project_with_extras(data.action, data.z, None, method=method, seed=seed)[0]
    scale = _scale(p)
    errors = []
    for e in groups.elements(data.action):
        moved = groups.transform_grid(data.action, data.z, int(e))
        pg = project_with_extras(data.action, moved, None, method=method, seed=seed)[0]
        if info.equivariant:
            dist = _equivariance(out_action, p, pg, np.full(len(p), e))
        else:
            dist = np.linalg.norm(pg - p, axis=1)
        errors.append(float(dist.max(initial=0.0) / scale))
    return errors


def _element_name(action, e: int) -> str:
    """``r^k`` or ``r^k f`` for the element with index ``m·N + k``."""
    return f"r^{e % action.order}" + (" f" if e >= action.order else "")


def _orbit_distance(data: _Sample, p, extras) -> float:
    """Max quotient distance of the cross-section output to the orbit of its input (relative)."""
    back = p.reshape(data.z.shape)
    mask = None
    if data.mask is not None:
        mask = np.arange(back.shape[1])[None, :] < extras["n_nodes"][:, None]
    d = quotient_distance(data.action, data.z, back, data.mask, mask)
    size = np.linalg.norm(data.z.reshape(len(back), -1), axis=1).mean()
    return float(d.max(initial=0.0) / max(size, 1e-30))


def _copies_spread(data: _Sample, run, scale: float, out_action) -> float | None:
    """Mean over objects of the max distance of a copy's projection to their mean (relative);
    for an equivariant output, of g⁻¹·π(z_c), so copies in other poses are compared in one."""
    if data.copies is None or (not out_action.is_invariant and data.copy_g is None):
        return None
    p = run(*data.copies)[0].astype(np.float64)
    if not out_action.is_invariant:
        back = groups.inverse(out_action, data.copy_g)
        p = groups.act(out_action, p.reshape(len(p), -1, out_action.group_size), back)[0]
        p = p.reshape(len(p), -1)
    group = data.copy_group
    sums = np.zeros((group.max() + 1, p.shape[1]))
    np.add.at(sums, group, p)
    centre = sums / np.bincount(group)[:, None]
    dist = np.linalg.norm(p - centre[group], axis=1)
    worst = np.zeros(len(centre))
    np.maximum.at(worst, group, dist)
    return float(worst.mean() / scale)


def _spearman(dq, dp) -> float | None:
    from scipy.stats import spearmanr

    if len(dq) < 3 or np.ptp(dq) == 0 or np.ptp(dp) == 0:
        return None
    return float(spearmanr(dq, dp).statistic)


def _trustworthiness(dq_sub, p) -> float | None:
    from sklearn.manifold import trustworthiness

    k = min(N_NEIGHBORS, (len(p) - 1) // 2)
    if k < 1:
        return None
    return float(trustworthiness(dq_sub, p.astype(np.float64), n_neighbors=k, metric="precomputed"))


def _collisions(data: _Sample, p, dp) -> int:
    """Pairs of distinct orbits (sampled pairs and sample pairs) that π maps to one point."""
    from scipy.spatial.distance import pdist

    i, j = np.triu_indices(len(p), k=1)
    dq = np.concatenate([data.dq, data.dq_sub[i, j]])
    dpp = np.concatenate([dp, pdist(p.astype(np.float64))])  # pdist: the same (i < j) order
    if not len(dq):
        return 0
    distinct = dq > 1e-3 * max(np.median(dq), 1e-30)
    same = dpp <= 1e-6 * max(np.median(dpp), 1e-30)
    return int((distinct & same).sum())


def render(result: dict) -> str:
    """The measurements as a plain-text table for people (stderr)."""
    copies = any(r.get("copies_spread") is not None for r in result["methods"])
    equi = any(r.get("equivariance_error") is not None for r in result["methods"])
    head = ("method", "dim", "invariance", *(("equivariance",) if equi else ()), "orbit dist",
            "spearman", "trust", "collisions", *(("real copies",) if copies else ()),
            "project s")  # fmt: skip
    lines = [
        f"action {result['action']}: {result['rows']} rows, {result['samples']} sampled, "
        f"{result['pairs']} pairs (seed {result['seed']})",
        "  ".join(f"{h:>13}" if k else f"{h:<14}" for k, h in enumerate(head)),
    ]
    for r in result["methods"]:
        cells = [r["dim"], r["invariance_error"], *((r["equivariance_error"],) if equi else ()),
                 r["orbit_distance"], r["spearman"], r["trustworthiness"], r["collisions"],
                 *((r["copies_spread"],) if copies else ()), r["seconds"]]  # fmt: skip
        lines.append("  ".join([f"{r['method']:<14}", *(f"{_fmt(c):>13}" for c in cells)]))
    if "quotient" in result:
        lines.append(f"quotient distances: {result['quotient']}")
    for r in result["methods"]:
        if r.get("degenerate_frames"):
            lines.append(
                f"{r['method']}: {r['degenerate_frames']} of {result['samples']} sampled rows "
                "have a degenerate frame (canon_rank < 3), invariant only where the sample is "
                "symmetric"
            )
    if "elements" in result:
        lines += _render_elements(result)
    if "lift" in result:
        lines += _render_lift(result["lift"])
    return "\n".join(lines)


def _render_lift(info: dict) -> list[str]:
    """Per-element lines of a lifted file: exactness, encode-time and real-copy errors."""
    head = ["element", "angle°", "flip", "exact", "mean at encode", "max at encode", "real copies"]
    lines = [
        f"lifted to {info['group']}: equivariance error ‖z(g·x) − g·z(x)‖ / ‖z(x)‖ per element "
        f"({info['images']} images at encode; real copies: against each object's identity copy)",
        "  ".join(f"{h:>14}" if k else f"{h:<8}" for k, h in enumerate(head)),
    ]
    for e in info["elements"]:
        cells = [e["angle_deg"], _yes(e["flip"]), _yes(e["exact"]), e["mean_relative_error"],
                 e["max_relative_error"], e.get("copies_error")]  # fmt: skip
        lines.append("  ".join([f"{e['name']:<8}", *(f"{_fmt(c):>14}" for c in cells)]))
    return lines


def _render_elements(result: dict) -> list[str]:
    """Per-element lines of a grid action: exactness, round trip, each method's error."""
    methods = [r["method"] for r in result["methods"]]
    head = ["element", "angle°", "flip", "exact", "round trip", *methods]
    lines = [
        "per element: error of π(g·z) against g·π(z) (equivariant) or π(z) (invariant); "
        "elements that are not quarter turns interpolate the grid",
        "  ".join(f"{h:>13}" if k else f"{h:<8}" for k, h in enumerate(head)),
    ]
    for k, e in enumerate(result["elements"]):
        cells = [e["angle_deg"], _yes(e["flip"]), _yes(e["exact"]), e["round_trip"]]
        cells += [r["per_element"][k] for r in result["methods"]]
        lines.append("  ".join([f"{e['name']:<8}", *(f"{_fmt(c):>13}" for c in cells)]))
    return lines


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if isinstance(v, int):
        return str(v)
    return f"{v:.3g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.1e}"


def gate(
    result: dict,
    max_error: float | None = None,
    max_error_approx: float | None = None,
    named: tuple[str, ...] = (),
) -> list[str]:
    """The conditions of ``check --max-error`` that fail on a check's ``result``, one line each.

    Latent files: every measured method's invariance error (equivariance error for equivariant
    methods) must stay within ``max_error``; ``raw``, not invariant by design, only when
    ``named``. On a grid, and for lifted files, the exact elements are held to ``max_error`` and
    the interpolated ones only to ``max_error_approx`` (reported otherwise). Model checks: each
    group element's max relative error, exact ones against ``max_error``, approximate ones
    (turns of a pixel grid that are not quarter turns) against ``max_error_approx``; the
    half-way rotations between elements are reported, never gated."""
    if max_error is None and max_error_approx is None:
        return []
    limits = {True: max_error, False: max_error_approx}
    if "methods" not in result:
        return _gate_model(result, limits)
    exact = [e["exact"] for e in result.get("elements", [])]
    out = []
    for r in result["methods"]:
        gated = r["invariant"] == "yes" or r.get("equivariance_error") is not None
        if not gated and r["method"] not in named:
            continue
        if exact:
            out += _gate_elements(r["method"], r["per_element"], exact, limits)
        elif max_error is not None:
            err = r["equivariance_error"] if r.get("equivariance_error") is not None else None
            err = r["invariance_error"] if err is None else err
            if err is None or err > max_error:
                out.append(_over(r["method"], "error", err, max_error))
    for e in result.get("lift", {}).get("elements", []):
        limit = limits[bool(e["exact"])]
        if limit is not None and e["max_relative_error"] > limit:
            what = f"lifted encoder, element {e['name']} ({_kind(e['exact'])})"
            out.append(_over(what, "equivariance error", e["max_relative_error"], limit))
    return out


def _gate_elements(method: str, errors: list[float], exact: list[bool], limits: dict) -> list[str]:
    out = []
    for k, (err, ex) in enumerate(zip(errors, exact, strict=True)):
        limit = limits[ex]
        if limit is not None and err > limit:
            out.append(_over(f"{method}, element {k} ({_kind(ex)})", "error", err, limit))
    return out


def _gate_model(result: dict, limits: dict) -> list[str]:
    """A model check's rows: group elements only (``kind`` element, or rows without a kind)."""
    out = []
    for r in result.get("rows", []):
        if r.get("kind", "element") != "element":
            continue
        exact = bool(r.get("exact", True))
        limit = limits[exact]
        if limit is not None and r["max_relative_error"] > limit:
            name = " ".join(
                str(r[k]) for k in ("layer", "transform", "compared_with", "name") if r.get(k)
            )
            angle = f" at {r['angle_deg']:g}°" if "angle_deg" in r else ""
            what = f"{result.get('model', 'model')}: {name or 'element'}{angle} ({_kind(exact)})"
            out.append(_over(what, "equivariance error", r["max_relative_error"], limit))
    return out


def _kind(exact: bool) -> str:
    return "exact" if exact else "approximate"


def _over(what: str, measure: str, value: float | None, limit: float) -> str:
    shown = "not measured" if value is None else f"{value:.3g}"
    return f"{what}: {measure} {shown} exceeds {limit:g}"
