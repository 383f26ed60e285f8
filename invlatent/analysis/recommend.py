"""The paper's principles as a rule: which invariant projection to use for a latent file, and why.

In order (Hansen, Calissano & Feragen, ICML 2024): (1) the projection must be invariant — measured
by ``check`` on random group elements, not only declared; (2) an isometric cross section wins where
one exists (``sort`` for ``sn`` with d = 1, ``identity`` for trivial latents); (3) otherwise the
methods injective on orbits are ranked by measured retention (quotient-distance Spearman and
trustworthiness) and, when the file has labels or targets, a linear probe score; cost breaks ties;
(4) when no injective method passes, the invariant that keeps most is taken, and said so.
"""

from __future__ import annotations

import numpy as np

from invlatent.errors import InvlatentError
from invlatent.groups.action import Action
from invlatent.projections import family_of, get_method

AUTO_FAMILIES = ("sn", "regular", "so2", "o3", "sn*o3", "trivial")
INVARIANCE_TOL = 1e-4  # relative; float32 rounding of the projections stays below 1e-5
TIE = 0.005  # scores this close count as equal, and the cheaper method wins


def check_family(action) -> None:
    """Refuse, with one line, actions the rule has no validated guarantees for."""
    fam = family_of(action)
    if fam in AUTO_FAMILIES:
        return
    hint = "pool the grid first (spatial-mean), then" if fam == "grid" else "instead"
    raise InvlatentError(
        f"method auto knows no rule for action {action} (family {fam}); {hint} "
        "choose a method from `invlatent project --list`"
    )


def recommend(
    action, check: dict, probe_scores: dict | None = None, probe_name: str = "", *, d=None
) -> dict:
    """The recommended method for ``action`` from ``check_file``'s result and optional probe
    scores ``{method: score}`` (higher is better); ``d`` is the channels per node of sn latents.
    Returns the method, one sentence of why, and every method's facts (``ranking``)."""
    check_family(action)
    rows = {r["method"]: _candidate(action, r, probe_scores, d) for r in check["methods"]}
    invariant = [c for c in rows.values() if c["status"] != "not invariant"]
    if not invariant:
        raise InvlatentError(f"no projection of action {action} measured invariant")
    iso = [c for c in invariant if c["isometric"]]
    if iso:
        pick = iso[0]
        return _result(pick, rows, _why_isometric(pick, action))
    injective = [c for c in invariant if c["injective"]]
    pool, lossy = (injective, False) if injective else (invariant, True)
    ranked = sorted(pool, key=lambda c: -c["score"])
    best = ranked[0]["score"]
    tied = [c for c in ranked if c["score"] >= best - TIE]
    pick = min(tied, key=lambda c: c["seconds"])
    why = _why_ranked(pick, action, len(pool), len(tied), lossy, probe_name)
    return _result(pick, rows, why)


def _candidate(action, row: dict, probe_scores: dict | None, d) -> dict:
    """One method's facts for the rule: measured invariance, guarantees, retention, score."""
    m = get_method(action, row["method"])
    err = row["invariance_error"]
    invariant = m.invariant == "yes" and err is not None and err <= INVARIANCE_TOL
    retention = [v for v in (row.get("spearman"), row.get("trustworthiness")) if v is not None]
    ret = float(np.mean(retention)) if retention else 0.0
    probe = None if probe_scores is None else probe_scores.get(row["method"])
    score = ret if probe is None else (ret + probe) / 2
    injective = m.injective.startswith("yes") and "for dim" not in m.injective
    return {
        "method": row["method"],
        "invariance_error": err,
        "status": "ok" if invariant else "not invariant",
        "injective": injective,
        "isometric": m.isometric == "yes" or (m.isometric == "yes for d = 1" and d == 1),
        "retention": ret,
        "probe": probe,
        "score": score,
        "seconds": row.get("seconds") or 0.0,
    }


def _result(pick: dict, rows: dict, reason: str) -> dict:
    return {"method": pick["method"], "reason": reason, "ranking": list(rows.values())}


def _why_isometric(pick: dict, action) -> str:
    return (
        f"{pick['method']}: measured invariant (error {pick['invariance_error']:.1e}) and an "
        f"isometric cross section for {action} — distances between projections equal the "
        "quotient distances, so nothing is lost or distorted."
    )


def _why_ranked(pick, action, n, n_tied, lossy, probe_name) -> str:
    what = "retention" + (f" and {probe_name}" if pick["probe"] is not None else "")
    probe = f", {probe_name} {pick['probe']:.3f}" if pick["probe"] is not None else ""
    tie = f"; cheapest of {n_tied} within {TIE}" if n_tied > 1 else ""
    if lossy:
        head = "no method injective on orbits passed, so it keeps the most of the"
        return (
            f"{pick['method']}: measured invariant (error {pick['invariance_error']:.1e}); "
            f"{head} {n} invariant methods by {what} (retention {pick['retention']:.2f}{probe}"
            f"{tie}) — it loses information: read its retention."
        )
    return (
        f"{pick['method']}: measured invariant (error {pick['invariance_error']:.1e}) and "
        f"injective on orbits; no method for {action} is an isometric cross section here, and it "
        f"ranks first of "
        f"{n} injective methods by {what} (retention {pick['retention']:.2f}{probe}{tie})."
    )


def choose(lf, *, seed: int = 0, samples: int = 256, pairs: int = 2000, probe_rows: int = 2000):
    """Measure ``lf`` (check on a sample, a 3-fold linear probe on at most ``probe_rows`` rows
    when it has labels or targets) and return the recommendation."""
    from invlatent.analysis.check import check_file

    check_family(lf.action)
    check = check_file(lf, pairs=pairs, samples=samples, seed=seed)
    scores, name = probe_scores(lf, _probe_candidates(lf.action, check), seed, probe_rows)
    return recommend(lf.action, check, scores, name, d=node_channels(lf))


def node_channels(lf) -> int | None:
    """Channels per node d of an sn file's latents ``[B, n, d]`` (None for other actions)."""
    return int(lf.z.shape[-1]) if lf.action == Action("sn") else None


def _probe_candidates(action, check: dict) -> list[str]:
    """Invariant methods worth probing (the rule never needs the others' scores)."""
    return [
        r["method"]
        for r in check["methods"]
        if get_method(action, r["method"]).invariant == "yes"
        and (r["invariance_error"] or 0.0) <= INVARIANCE_TOL
    ]


def probe_scores(lf, methods: list[str], seed: int, rows: int, folds: int = 3):
    """Linear-probe score of each method on a seeded subset: accuracy for labels, mean R² for
    targets; ``(None, "")`` for files without either."""
    from invlatent.analysis.probe import run_probe
    from invlatent.format.projected import project_latents

    target = target_of(lf)
    if target is None or len(methods) < 2:
        return None, ""
    sub = lf.subset(np.sort(np.random.default_rng(seed).permutation(len(lf))[:rows]))
    inputs = [project_latents(sub, m, seed=seed) for m in methods]
    report = run_probe(inputs, task="linear", target=target, folds=folds, seed=seed, names=methods)
    key = "accuracy" if report["kind"] == "classification" else "mean_r2"
    scores = {m: r["summary"][key]["mean"] for m, r in zip(methods, report["results"], strict=True)}
    return scores, f"linear-probe {key.replace('_', ' ')}"


def target_of(lf) -> list[str] | None:
    """What a probe reads: the labels, else every target; None when the file has neither."""
    if lf.labels is not None and len(np.unique(np.asarray(lf.labels))) > 1:
        return ["labels"]
    if lf.targets is not None and lf.target_names:
        return list(lf.target_names)
    return None


def project_auto(src: str, dest: str | None, *, seed: int = 0) -> dict:
    """``project --method auto``: measure, recommend, project with the chosen method, and record
    the choice (``requested: auto``, the method and why) in the output's history."""
    from dataclasses import replace

    from invlatent.format import latentfile
    from invlatent.format.projected import project_latents
    from invlatent.format.shards import read_input

    lf = read_input(src)
    rec = choose(lf, seed=seed)
    out = project_latents(lf, rec["method"], seed=seed, source=src)
    step = out.history[-1]
    options = {**step["options"], "requested": "auto", "reason": rec["reason"]}
    latentfile.write(replace(out, history=[*out.history[:-1], {**step, "options": options}]), dest)
    return rec
