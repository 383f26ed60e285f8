"""Drawing the panels side by side with matplotlib's headless Agg canvas (never a window).

The figure is built with ``matplotlib.figure.Figure`` directly, not ``pyplot``, so no GUI
backend or global figure state is involved.
"""

from __future__ import annotations

import numpy as np

from invlatent.analysis.viz._colors import Coloring
from invlatent.analysis.viz._panels import Panel, panel_name

MARKERS = "osD^vP*Xph"
PANEL_INCHES = 4.2


def draw(panels: list[Panel], coloring: Coloring, *, seed: int = 0, dpi: int = 150):
    """A figure with one panel per input, one shared colour scale and one legend or colour bar."""
    from matplotlib.figure import Figure

    extra = 1.4 if coloring.kind != "none" or any(p.orbits is not None for p in panels) else 0.0
    fig = Figure(
        figsize=(PANEL_INCHES * len(panels) + extra, PANEL_INCHES + 0.4),
        dpi=dpi,
        layout="constrained",
    )
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    mappable = None
    for ax, panel, values in zip(axes, panels, coloring.values, strict=True):
        mappable = _scatter(ax, panel, values, coloring, seed) or mappable
        if panel.orbits is not None:
            _draw_orbits(ax, panel)
        _decorate(ax, panel)
    _key(fig, list(axes), coloring, mappable, panels)
    return fig


def _scatter(ax, panel: Panel, values, coloring: Coloring, seed: int):
    """Plot the data points in a seeded random order, so no class is always drawn on top."""
    from matplotlib import colormaps

    xy = panel.embedding.xy
    order = np.random.default_rng(seed).permutation(len(xy))
    size = float(np.clip(4000 / len(xy), 1.0, 14.0))
    style = {"s": size, "alpha": 0.75, "linewidths": 0, "rasterized": True, "zorder": 1}
    if coloring.kind == "none":
        ax.scatter(xy[order, 0], xy[order, 1], color="tab:blue", **style)
        return None
    if coloring.kind == "classes":
        cmap = colormaps[coloring.cmap]
        ax.scatter(xy[order, 0], xy[order, 1], color=cmap(values[order] % cmap.N), **style)
        return None
    return ax.scatter(
        xy[order, 0],
        xy[order, 1],
        c=values[order],
        cmap=coloring.cmap,
        vmin=coloring.vmin,
        vmax=coloring.vmax,
        **style,
    )


def _draw_orbits(ax, panel: Panel) -> None:
    """Each orbit's members joined in element order (loops), or to the first member (stars)."""
    orb, pts = panel.orbits, panel.embedding.extra_xy
    size = 34 if len(orb.obj) <= 12 * len(np.unique(orb.obj)) else 18
    for k in np.unique(orb.obj):
        mine = orb.obj == k
        for path in np.unique(orb.path[mine]):
            sel = np.flatnonzero(mine & (orb.path == path))
            _orbit_lines(ax, pts[sel[np.argsort(orb.element[sel], kind="stable")]], orb.closed)
        ax.scatter(
            pts[mine, 0],
            pts[mine, 1],
            marker=MARKERS[k % len(MARKERS)],
            s=size,
            facecolor="white",
            edgecolor="black",
            linewidths=0.9,
            zorder=4,
        )


def _orbit_lines(ax, pts: np.ndarray, closed: bool) -> None:
    style = {"color": "black", "linewidth": 0.8, "alpha": 0.75, "zorder": 3}
    if closed:
        loop = np.concatenate([pts, pts[:1]])
        ax.plot(loop[:, 0], loop[:, 1], **style)
        return
    for p in pts[1:]:
        ax.plot([pts[0, 0], p[0]], [pts[0, 1], p[1]], **style)


def _decorate(ax, panel: Panel) -> None:
    ax.set_title(panel.title, fontsize=11)
    ax.text(
        0.01, 0.99, panel_name(panel), transform=ax.transAxes, fontsize=7, va="top", color="0.35"
    )
    ax.set_xlabel(panel.embedding.axis_labels[0])
    ax.set_ylabel(panel.embedding.axis_labels[1])
    ax.tick_params(labelsize=7)
    if panel.embedding.params["method"] == "pca":
        ax.set_aspect("equal", adjustable="datalim")


def _key(fig, axes, coloring: Coloring, mappable, panels: list[Panel]) -> None:
    """One legend (classes, orbits) or one colour bar for the whole figure."""
    from matplotlib import colormaps
    from matplotlib.lines import Line2D

    handles = []
    if coloring.kind == "classes":
        cmap = colormaps[coloring.cmap]
        handles = [
            Line2D([], [], ls="", marker="o", color=cmap(i % cmap.N), label=str(c))
            for i, c in enumerate(coloring.classes)
        ]
    if any(p.orbits is not None for p in panels):
        handles.append(
            Line2D(
                [],
                [],
                color="black",
                lw=0.8,
                marker="o",
                mfc="white",
                label=f"orbits ({_orbit_source(panels)})",
            )
        )
    if handles:
        fig.legend(
            handles=handles,
            loc="outside right upper",
            fontsize=8,
            frameon=False,
            title=coloring.label if coloring.kind == "classes" else None,
            title_fontsize=8,
        )
    if coloring.kind == "continuous" and mappable is not None:
        bar = fig.colorbar(mappable, ax=axes, shrink=0.8, pad=0.01)
        bar.set_label(coloring.label)


def _orbit_source(panels: list[Panel]) -> str:
    sources = sorted({p.orbits.source for p in panels if p.orbits is not None})
    return {"ids": "copies sharing an id"}.get(sources[0], "group elements") if sources else ""
