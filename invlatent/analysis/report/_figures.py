"""Interactive panels (plotly, drawn offline by the page's inlined plotly.js): raw latents beside
the recommended projection, embedded by ``invlatent.analysis.viz``; hover shows id, label and
targets, and every drawn orbit is one legend entry that shows or hides it in both panels."""

from __future__ import annotations

import time

import numpy as np

from invlatent.analysis.report._budget import Budget
from invlatent.analysis.report._collect import Settings
from invlatent.format.latentfile import LatentFile
from invlatent.format.projected import project_latents

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")  # fmt: skip


def panels(path: str, lf: LatentFile, method: str | None, s: Settings, budget: Budget, name: str):
    """Figures (plotly dicts) and their facts, one per embedding that fits the budget."""
    from invlatent.analysis.viz import Options, build_panels
    from invlatent.analysis.viz import Settings as Embed

    if method is None:
        budget.skip(f"{name}: panels (no recommended projection to show beside the raw latents)")
        return [], []
    plf = project_latents(lf, method, seed=s.seed, source=path)
    orbits = s.orbits if _has_orbits(lf) else 0
    if s.orbits and not orbits:
        budget.skip(f"{name}: orbits in the panels (trivial action and no repeated ids)")
    figs, facts = [], []
    for emb in s.embeddings:
        units = min(len(lf), s.panel_rows) / 1000 * 2
        if not _available(emb, budget, name) or not budget.fits(
            f"panel:{emb}", units, f"{name}: {emb} panels"
        ):
            continue
        budget.say(f"{name}: {emb} panels, raw vs {method}")
        t0 = time.perf_counter()
        opts = Options(settings=Embed(method=emb, seed=s.seed), sample=s.panel_rows, orbits=orbits)
        built = build_panels([path, f"{path} → {method}"], [lf, plf], opts)
        budget.done(f"panel:{emb}", units, time.perf_counter() - t0)
        figs.append(figure(built, emb))
        facts.append(_facts(built, emb, method))
    return figs, facts


def _has_orbits(lf: LatentFile) -> bool:
    from invlatent.analysis.viz._orbits import repeated_ids

    return not lf.action.is_invariant or len(repeated_ids(lf.ids)) > 0


def _available(emb: str, budget: Budget, name: str) -> bool:
    if emb != "umap":
        return True
    try:
        import umap  # noqa: F401
    except ImportError:
        budget.skip(f"{name}: umap panels (umap-learn is not installed)")
        return False
    return True


def _facts(built, emb: str, method: str) -> dict:
    """What the panels show, in numbers: points, orbits and how far orbits spread."""
    raw, inv = built
    spread = [p.orbit_spread() for p in built]
    return {
        "embedding": emb,
        "projection": method,
        "points": int(len(raw.rows)),
        "orbits": 0 if raw.orbits is None else int(len(np.unique(raw.orbits.obj))),
        "orbit_spread_raw": spread[0],
        "orbit_spread_projected": spread[1],
        "explained_raw": raw.embedding.explained or None,
        "explained_projected": inv.embedding.explained or None,
    }


def figure(built, emb: str):
    """A two-panel plotly figure of the raw and the projected embedding."""
    from plotly.subplots import make_subplots

    titles = [p.title for p in built]
    fig = make_subplots(rows=1, cols=2, subplot_titles=titles, horizontal_spacing=0.06)
    for col, panel in enumerate(built, start=1):
        for trace in _point_traces(panel, first=col == 1) + _orbit_traces(panel, first=col == 1):
            fig.add_trace(trace, row=1, col=col)
        fig.update_xaxes(title_text=panel.embedding.axis_labels[0], row=1, col=col)
        fig.update_yaxes(title_text=panel.embedding.axis_labels[1], row=1, col=col)
    fig.update_layout(height=520, margin=dict(l=40, r=20, t=60, b=40), template="plotly_white",
                      legend=dict(title="click: show / hide"), hovermode="closest")  # fmt: skip
    return fig


def _hover(lf: LatentFile, rows: np.ndarray) -> tuple[np.ndarray, str]:
    """Per-point customdata (id, label, targets) and the hover template that shows them."""
    ids = np.asarray(lf.ids)[rows] if lf.ids is not None else rows
    cols = [ids.astype(np.int64)]
    template = "id %{customdata[0]}"
    if lf.labels is not None:
        cols.append(np.asarray(lf.labels)[rows])
        template += "<br>label %{customdata[1]}"
    if lf.targets is not None:
        for j, t in enumerate(lf.target_names[:6]):
            cols.append(np.asarray(lf.targets)[rows, j])
            template += f"<br>{t} %{{customdata[{len(cols) - 1}]:.4g}}"
    return np.stack([c.astype(np.float64) for c in cols], axis=1), template + "<extra></extra>"


def _point_traces(panel, first: bool) -> list:
    import plotly.graph_objects as go

    lf, xy = panel.lf, panel.embedding.xy
    data, template = _hover(lf, panel.rows)
    common = dict(mode="markers", hovertemplate=template, marker=dict(size=5, opacity=0.65))
    if lf.labels is None:
        color = {} if lf.targets is None else dict(color=np.asarray(lf.targets)[panel.rows, 0])
        marker = dict(size=5, opacity=0.65, colorscale="Viridis", **color)
        return [go.Scatter(x=xy[:, 0], y=xy[:, 1], customdata=data, name="samples",
                           showlegend=first, legendgroup="samples",
                           **{**common, "marker": marker})]  # fmt: skip
    labels = np.asarray(lf.labels)[panel.rows]
    traces = []
    for i, c in enumerate(np.unique(labels)):
        sel = labels == c
        traces.append(go.Scatter(
            x=xy[sel, 0], y=xy[sel, 1], customdata=data[sel], name=f"label {c}",
            legendgroup=f"label {c}", showlegend=first,
            **{**common, "marker": dict(size=5, opacity=0.65, color=PALETTE[i % len(PALETTE)])},
        ))  # fmt: skip
    return traces


def _orbit_traces(panel, first: bool) -> list:
    import plotly.graph_objects as go

    if panel.orbits is None:
        return []
    pts, orb = panel.embedding.extra_xy, panel.orbits
    traces = []
    for k in np.unique(orb.obj):
        sel = orb.obj == k
        xy = pts[sel]
        if orb.closed:
            xy = np.vstack([xy, xy[:1]])
        traces.append(go.Scatter(
            x=xy[:, 0], y=xy[:, 1], mode="lines+markers", name=f"orbit {k}",
            legendgroup=f"orbit {k}", showlegend=first, hoverinfo="name",
            line=dict(width=2, color="black"), marker=dict(size=9, symbol="x", color="black"),
        ))  # fmt: skip
    return traces
