"""``invlatent report``: the paper's principles applied to latent files, as one offline HTML page
and the same content as JSON.

For each file: its action and history; every applicable projection with its declared guarantees
and ``check``'s measurements; probes of labels or targets, raw vs every invariant projection, under
one stated protocol; the recommendation of ``invlatent.analysis.recommend`` with one sentence of
why; and interactive PCA/UMAP panels of the raw latents beside the recommended projection.
Everything is computed by library calls; a time budget skips the stages that no longer fit, and
says so.
"""

from __future__ import annotations

from invlatent import __version__
from invlatent.analysis.report._budget import Budget
from invlatent.analysis.report._collect import (
    Settings,
    file_facts,
    projections,
    recommendation,
    run_check,
    run_probes,
)
from invlatent.analysis.report._figures import panels
from invlatent.analysis.report._html import fmt, page
from invlatent.errors import InvlatentError
from invlatent.format.shards import read_input

__all__ = ["Budget", "Settings", "build", "fmt", "html_page"]


def build(paths: list[str], settings: Settings, budget: Budget) -> tuple[dict, list[list]]:
    """The report (JSON-ready) and, per file, its plotly figures."""
    sections, figures = [], []
    for path in paths:
        lf = read_input(path)
        name = "stdin" if path == "-" else path
        if len(lf) < max(3, settings.folds):  # before any progress: one line, nothing else
            raise InvlatentError(
                f"{name}: {len(lf)} rows; a report needs at least {max(3, settings.folds)} "
                "(3 for a panel, one per probe fold)"
            )
        budget.say(f"{name}: {len(lf)} rows, action {lf.action}")
        section = file_facts(path, lf)
        section["projections"] = projections(lf)
        section["check"] = run_check(lf, settings, budget, name)
        section["probes"] = run_probes(lf, settings, budget, name)
        section["recommendation"] = recommendation(
            lf, section["check"], section["probes"], name, budget
        )
        figs, section["panels"] = panels(
            path, lf, section["recommendation"]["method"], settings, budget, name
        )
        sections.append(section)
        figures.append(figs)
    budget.say("done")
    report = {
        "version": __version__,
        "settings": _settings_dict(settings, budget),
        "files": sections,
        "skipped": budget.skipped,
    }
    return report, figures


def html_page(report: dict, figures: list[list]) -> str:
    """The self-contained page: plotly.js inlined, nothing fetched when it is opened."""
    from plotly.offline import get_plotlyjs

    return page(report, figures, get_plotlyjs())


def _settings_dict(s: Settings, budget: Budget) -> dict:
    return {
        "tasks": ",".join(s.tasks),
        "embeddings": ",".join(s.embeddings),
        "check samples": s.samples,
        "check pairs": s.pairs,
        "probe rows": s.probe_rows,
        "folds": s.folds,
        "panel rows": s.panel_rows,
        "orbits": s.orbits,
        "seed": s.seed,
        "budget s": budget.seconds,
    }
