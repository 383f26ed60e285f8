"""What ``viz`` writes: the figure with its parameters in its metadata, and the 2-D coordinates."""

from __future__ import annotations

import io
import json
import os

import numpy as np

from invlatent import __version__
from invlatent.analysis.viz._panels import Panel
from invlatent.errors import InvlatentError
from invlatent.format.latentfile import LatentFile
from invlatent.groups.action import Action

FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
META_KEY = {"png": "Description", "svg": "Description", "pdf": "Subject"}


def figure_format(path: str) -> str:
    """The image format named by the output file's extension (png, svg or pdf)."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise InvlatentError(f"{path}: cannot tell the image format; use a .png, .svg or .pdf name")
    return FORMATS[ext]


def figure_bytes(fig, fmt: str, record: dict, *, dpi: int) -> bytes:
    """The rendered figure, with ``record`` (JSON) in its metadata; same figure → same bytes."""
    from matplotlib import rc_context

    title = "invlatent viz: " + ", ".join(p["title"] for p in record["panels"])
    meta = {"Title": title, META_KEY[fmt]: json.dumps(record, sort_keys=True)}
    if fmt == "png":
        meta["Software"] = f"invlatent {__version__}"
    else:
        meta.update(
            {
                "Creator": f"invlatent {__version__}",
                "Date" if fmt == "svg" else "CreationDate": None,
            }
        )
    buf = io.BytesIO()
    with rc_context({"svg.hashsalt": "invlatent", "svg.fonttype": "path"}):
        fig.savefig(buf, format=fmt, dpi=dpi, metadata=meta)
    return buf.getvalue()


def read_record(path: str) -> dict:
    """The parameter record stored in a PNG written by ``viz`` (for tests and scripts)."""
    from PIL import Image

    with Image.open(path) as im:
        return json.loads(im.text["Description"])


def embedding_file(panels: list[Panel], step: dict) -> LatentFile:
    """All panels' 2-D coordinates as one latent file (action trivial) with a ``panel`` index."""
    lfs = [p.lf for p in panels]
    extra = {
        "panel": np.concatenate([np.full(len(p.rows), i, np.int64) for i, p in enumerate(panels)]),
        "row": np.concatenate([p.rows.astype(np.int64) for p in panels]),
        **_orbit_tensors(panels),
    }
    same_targets = all(
        lf.targets is not None and lf.target_names == lfs[0].target_names for lf in lfs
    )
    g_kinds = {lf.g_kind or lf.action.g_kind for lf in lfs}
    keep_g = all(lf.g is not None and lf.g.ndim == 1 for lf in lfs) and len(g_kinds) == 1
    return LatentFile(
        z=np.concatenate([p.embedding.xy for p in panels]).astype(np.float32),
        action=Action.parse("trivial"),
        labels=_stack(panels, "labels"),
        ids=_stack(panels, "ids"),
        targets=_stack(panels, "targets") if same_targets else None,
        target_names=list(lfs[0].target_names) if same_targets else [],
        g=_stack(panels, "g") if keep_g else None,
        g_kind=g_kinds.pop() if keep_g else None,
        extra=extra,
        history=[step],
        meta={"panel_names": json.dumps([p.title for p in panels])},
    )


def _stack(panels: list[Panel], name: str) -> np.ndarray | None:
    parts = [getattr(p.lf, name) for p in panels]
    if any(a is None for a in parts):
        return None
    return np.concatenate([np.asarray(a)[p.rows] for a, p in zip(parts, panels, strict=True)])


def _orbit_tensors(panels: list[Panel]) -> dict[str, np.ndarray]:
    with_orbits = [(i, p) for i, p in enumerate(panels) if p.orbits is not None]
    if not with_orbits:
        return {}
    return {
        "orbit_xy": np.concatenate([p.embedding.extra_xy for _, p in with_orbits]).astype(
            np.float32
        ),
        "orbit_panel": np.concatenate(
            [np.full(len(p.orbits.obj), i, np.int64) for i, p in with_orbits]
        ),
        "orbit_object": np.concatenate([p.orbits.obj.astype(np.int64) for _, p in with_orbits]),
        "orbit_element": np.concatenate(
            [p.orbits.element.astype(np.int64) for _, p in with_orbits]
        ),
    }
