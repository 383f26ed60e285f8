"""Pictures of latent spaces: raw and invariant latents side by side, with orbits drawn in.

``render`` turns read latent files into panels and a matplotlib figure; ``figure_bytes`` and
``embedding_file`` give what ``invlatent viz`` writes. Nothing here imports torch, and UMAP is
imported only when it is the chosen method.
"""

from __future__ import annotations

from dataclasses import dataclass

from invlatent import __version__
from invlatent.analysis.viz._colors import Coloring, resolve
from invlatent.analysis.viz._embedding import METHODS, Embedding, Settings, embed
from invlatent.analysis.viz._figure import draw
from invlatent.analysis.viz._orbits import Orbits, choose, copy_orbits, group_elements, group_orbits
from invlatent.analysis.viz._output import embedding_file, figure_bytes, figure_format, read_record
from invlatent.analysis.viz._panels import ORBIT_SOURCES, Options, Panel, build_panels
from invlatent.format.latentfile import LatentFile, input_hash

__all__ = [
    "METHODS",
    "ORBIT_SOURCES",
    "Coloring",
    "Embedding",
    "Options",
    "Orbits",
    "Panel",
    "Picture",
    "Settings",
    "build_panels",
    "choose",
    "copy_orbits",
    "draw",
    "embed",
    "embedding_file",
    "figure_bytes",
    "figure_format",
    "group_elements",
    "group_orbits",
    "read_record",
    "render",
    "resolve",
]


@dataclass
class Picture:
    """A rendered picture: its panels, colouring, matplotlib figure and parameter record."""

    panels: list[Panel]
    coloring: Coloring
    figure: object
    record: dict


def render(files: list[str], lfs: list[LatentFile], opts: Options, *, dpi: int = 150) -> Picture:
    """Embed every file, resolve the colours and draw the figure (nothing is written)."""
    panels = build_panels(files, lfs, opts)
    coloring = resolve(opts.color, files, lfs, [p.rows for p in panels])
    fig = draw(panels, coloring, seed=opts.settings.seed, dpi=dpi)
    return Picture(panels, coloring, fig, _record(panels, opts))


def _record(panels: list[Panel], opts: Options) -> dict:
    """The parameters and inputs of a picture, stored in its metadata and printed by ``--json``."""
    return {
        "tool": f"invlatent {__version__}",
        "command": "viz",
        "seed": opts.settings.seed,
        "sample": opts.sample,
        "standardize": opts.standardize,
        "color": opts.color,
        "orbits": {"k": opts.orbits, "size": opts.orbit_size, "source": opts.orbit_source},
        "panels": [_panel_record(p) for p in panels],
    }


def _panel_record(p: Panel) -> dict:
    out = {
        "file": p.file,
        "sha256": input_hash(p.lf),
        "title": p.title,
        "points": int(len(p.rows)),
        "rows": len(p.lf),
        "params": p.embedding.params,
    }
    if p.orbits is not None:
        out["orbits"] = {
            "source": p.orbits.source,
            "objects": int(len(set(p.orbits.obj.tolist()))),
            "members": int(len(p.orbits.obj)),
            "relative_spread": p.orbit_spread(),
            "reprojection_error": p.orbit_mismatch,
        }
    return out
