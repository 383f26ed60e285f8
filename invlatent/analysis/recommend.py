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

from invlatent.analysis.check import INVARIANCE_TOLERANCE
from invlatent.errors import InvlatentError
from invlatent.groups.action import Action
from invlatent.projections import family_of, get_method

AUTO_FAMILIES = ("sn", "regular", "so2", "o3", "sn*o3", "trivial")
ALPHA = 0.05  # level of the paired probe comparisons that decide a winner
RESOLUTION = 1e-4  # probe-score differences below this are never a win (numerical noise)


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
    action,
    check: dict,
    probe_scores: dict | None = None,
    probe_name: str = "",
    *,
    d=None,
    paired: dict | None = None,
    alpha: float = ALPHA,
    unprobed: str = "the file has no labels or targets",
) -> dict:
    """The recommended method for ``action`` from ``check_file``'s result and optional probe
    scores ``{method: score}`` (higher is better); ``d`` is the channels per node of sn latents.
    ``paired`` holds the probe's paired comparisons of the methods (``comparisons`` with every
    pair, ``n_test`` rows, each method's ``ci95``): a method wins only when it beats each other
    candidate significantly (Holm, ``alpha``); otherwise the tied ones are ranked by declared
    guarantee, then cost, then retention. Returns the method, one sentence of why, whether the
    win is ``significant``, the ``tied`` methods and every method's facts (``ranking``);
    ``unprobed`` says why no probe scores were given, when none were."""
    check_family(action)
    rows = {r["method"]: _candidate(action, r, probe_scores, d) for r in check["methods"]}
    invariant = [c for c in rows.values() if c["status"] != "not invariant"]
    if not invariant:
        raise InvlatentError(f"no projection of action {action} measured invariant")
    iso = [c for c in invariant if c["isometric"]]
    if iso:
        pick = iso[0]
        return _result(pick, rows, _why_isometric(pick, action), False, [])
    injective = [c for c in invariant if c["injective"]]
    pool, lossy = (injective, False) if injective else (invariant, True)
    head = _head(action, len(pool), lossy)
    if paired is None or any(c["probe"] is None for c in pool) or len(pool) < 2:
        pick = min(pool, key=lambda c: (c["guarantee"], -c["retention"], c["seconds"]))
        why = _why_unprobed(pick, probe_scores, unprobed)
        return _result(pick, rows, head(pick) + why, False, [])
    best = max(pool, key=lambda c: c["probe"])
    tied = _tied(best, pool, paired, alpha)
    pick = min(tied, key=lambda c: (c["guarantee"], c["seconds"], -c["retention"]))
    why = head(pick) + _why_tested(pick, best, tied, pool, probe_name, paired, alpha)
    return _result(pick, rows, why, len(tied) == 1, [c["method"] for c in tied])


def _tied(best: dict, pool: list[dict], paired: dict, alpha: float) -> list[dict]:
    """``best`` and the candidates it does not beat significantly (paired test, Holm)."""
    from invlatent.analysis.probe import holm

    table = {(c["baseline"], c["file"]): c for c in paired["comparisons"]}
    others = [c for c in pool if c is not best]
    tests = [_oriented(table, best["method"], c["method"]) for c in others]
    adjusted = holm([t["p_uncorrected"] for t in tests])
    beaten = [
        p < alpha and t["difference"] > RESOLUTION for t, p in zip(tests, adjusted, strict=True)
    ]
    return [best, *(c for c, b in zip(others, beaten, strict=True) if not b)]


def _oriented(table: dict, winner: str, other: str) -> dict:
    """The comparison as ``winner − other`` (the table holds each pair once)."""
    row = table.get((other, winner))
    if row is not None:
        return row
    row = table[(winner, other)]
    return row | {"difference": -row["difference"]}


def _candidate(action, row: dict, probe_scores: dict | None, d) -> dict:
    """One method's facts for the rule: measured invariance, guarantees, retention, score."""
    m = get_method(action, row["method"])
    err = row["invariance_error"]
    invariant = m.invariant == "yes" and err is not None and err <= INVARIANCE_TOLERANCE
    retention = [v for v in (row.get("spearman"), row.get("trustworthiness")) if v is not None]
    ret = float(np.mean(retention)) if retention else 0.0
    probe = None if probe_scores is None else probe_scores.get(row["method"])
    injective = m.injective.startswith("yes") and "for dim" not in m.injective
    return {
        "method": row["method"],
        "invariance_error": err,
        "status": "ok" if invariant else "not invariant",
        "injective": injective,
        "isometric": m.isometric == "yes" or (m.isometric == "yes for d = 1" and d == 1),
        "guarantee": 0 if m.injective == "yes" else 1 if injective else 2,
        "retention": ret,
        "probe": probe,
        "seconds": row.get("seconds") or 0.0,
    }


def _result(pick: dict, rows: dict, reason: str, significant: bool, tied: list[str]) -> dict:
    return {
        "method": pick["method"],
        "reason": reason,
        "significant": significant,
        "tied": tied,
        "ranking": list(rows.values()),
    }


def _why_isometric(pick: dict, action) -> str:
    return (
        f"{pick['method']}: measured invariant (error {pick['invariance_error']:.1e}) and an "
        f"isometric cross section for {action} — distances between projections equal the "
        "quotient distances, so nothing is lost or distorted."
    )


def _head(action, n: int, lossy: bool):
    """The sentence's start for a pick from ``n`` candidates (injective ones, or all if lossy)."""

    def head(pick: dict) -> str:
        start = f"{pick['method']}: measured invariant (error {pick['invariance_error']:.1e})"
        if lossy:
            return (
                f"{start}; no method injective on orbits passed, so it is chosen among the {n} "
                f"invariant methods and loses information (retention {pick['retention']:.2f}): "
            )
        return (
            f"{start} and injective on orbits; no method for {action} is an isometric cross "
            f"section here. "
        )

    return head


def _why_unprobed(pick: dict, probe_scores: dict | None, unprobed: str) -> str:
    why = (
        f"no probe was possible ({unprobed})"
        if probe_scores is None
        else "no paired probe comparison of every candidate was made"
    )
    return (
        f"{why}, so the rule ranks by declared guarantee, then retention "
        f"({pick['retention']:.2f}), then cost."
    )


def _why_tested(pick, best, tied, pool, probe_name, paired, alpha) -> str:
    """Why ``pick``: it wins the paired test, or it is the tie's strongest guarantee or cheapest."""
    n, lo_hi = paired["n_test"], paired.get("ci95", {}).get(pick["method"])
    score = f"{probe_name} {pick['probe']:.3f}" + (
        f" [{lo_hi[0]:.3f}–{lo_hi[1]:.3f}]" if lo_hi else ""
    )
    test = f"paired test on {n:,} test rows, Holm, α = {alpha:g}"
    if len(tied) == 1:
        rivals = "the other candidate" if len(pool) == 2 else f"each of the other {len(pool) - 1}"
        return (
            f"Its {score} beats {rivals} significantly ({test}); retention {pick['retention']:.2f}."
        )
    names = [c["method"] for c in tied]
    listed = ", ".join(names[:-1]) + f" and {names[-1]}"
    others = [c for c in tied if c is not pick]
    highest = f"; best score {best['probe']:.3f}"
    return (
        f"{listed} are tied on this data ({test}{highest}); "
        f"{pick['method']} is picked because {_because(pick, others)} ({score}, retention "
        f"{pick['retention']:.2f})."
    )


def _because(pick: dict, others: list[dict]) -> str:
    if all(pick["guarantee"] < c["guarantee"] for c in others):
        return "its injectivity on orbits is exact, not only generic"
    peers = [c for c in others if c["guarantee"] == pick["guarantee"]]
    cheapest_other = min(c["seconds"] for c in peers) if peers else 0.0
    if pick["seconds"] > 0 and cheapest_other > pick["seconds"]:
        ratio = cheapest_other / pick["seconds"]
        return f"it is {ratio:.1f}× cheaper" if ratio < 10 else f"it is {ratio:.0f}× cheaper"
    return "its retention is the highest of them"


def choose(lf, *, seed: int = 0, samples: int = 256, pairs: int = 2000, probe_rows: int = 2000):
    """Measure ``lf`` (check on a sample, a 3-fold linear probe on at most ``probe_rows`` rows
    when it has labels or targets) and return the recommendation."""
    from invlatent.analysis.check import check_file

    check_family(lf.action)
    check = check_file(lf, pairs=pairs, samples=samples, seed=seed)
    scores, name, paired = probe_scores(lf, _probe_candidates(lf.action, check), seed, probe_rows)
    return recommend(lf.action, check, scores, name, d=node_channels(lf), paired=paired)


def node_channels(lf) -> int | None:
    """Channels per node d of an sn file's latents ``[B, n, d]`` (None for other actions)."""
    return int(lf.z.shape[-1]) if lf.action == Action("sn") else None


def _probe_candidates(action, check: dict) -> list[str]:
    """Invariant methods worth probing (the rule never needs the others' scores)."""
    return [
        r["method"]
        for r in check["methods"]
        if get_method(action, r["method"]).invariant == "yes"
        and (r["invariance_error"] or 0.0) <= INVARIANCE_TOLERANCE
    ]


def probe_scores(lf, methods: list[str], seed: int, rows: int, folds: int = 3):
    """Linear-probe score of each method on a seeded subset (accuracy for labels, mean R² for
    targets), the score's name and the paired comparisons of every pair of methods (for
    ``recommend``'s ``paired``); ``(None, "", None)`` for files without labels or targets."""
    from invlatent.analysis.probe import run_probe
    from invlatent.format.projected import project_latents

    target = target_of(lf)
    if target is None or len(methods) < 2:
        return None, "", None
    sub = lf.subset(np.sort(np.random.default_rng(seed).permutation(len(lf))[:rows]))
    inputs = [project_latents(sub, m, seed=seed) for m in methods]
    opts = dict(folds=folds, seed=seed, names=methods, all_pairs=True)
    report = run_probe(inputs, task="linear", target=target, **opts)
    key = "accuracy" if report["kind"] == "classification" else "mean_r2"
    results = dict(zip(methods, report["results"], strict=True))
    scores = {m: r["summary"][key]["mean"] for m, r in results.items()}
    paired = {
        "comparisons": [c for c in report["comparisons"] if c["metric"] == key],
        "n_test": sum(f["n_test"] for f in report["results"][0]["folds"]),
        "ci95": {m: r["summary"][key]["ci95"] for m, r in results.items()},
    }
    return scores, f"linear-probe {key.replace('_', ' ')}", paired


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
