"""The report page in a real headless browser (Debian's chromium): it loads with no console
errors, its panels render, and the numbers it shows are those of ``--json``."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from invlatent.analysis.report import fmt
from invlatent.format import latentfile
from invlatent.format.synthetic import make_synthetic

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=8000"]  # fmt: skip

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="chromium not installed: `make browser-deps` installs it (root + apt)",
    ),
]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """A two-file report (labels; no labels) as HTML, and its JSON from the same run."""
    tmp = tmp_path_factory.mktemp("browser")
    files = [tmp / "c8.st", tmp / "bare.st"]
    latentfile.write(make_synthetic("c8", n_samples=90, seed=1), str(files[0]))
    bare = make_synthetic("so2:0,1,1,2", n_samples=60, seed=2)
    bare.labels = None
    latentfile.write(bare, str(files[1]))
    html = tmp / "report.html"
    cmd = ["-m", "invlatent", "report", *map(str, files), "-o", str(html), "--json",
           "--tasks", "linear", "--embeddings", "pca", "--samples", "48", "--pairs", "200",
           "--orbits", "2", "--folds", "3"]  # fmt: skip
    res = subprocess.run([sys.executable, *cmd], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return html, json.loads(res.stdout), tmp


def _chromium(tmp, *args: str) -> subprocess.CompletedProcess:
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_page_loads_without_console_errors_and_shows_the_json_numbers(page):
    html, report, tmp = page
    res = _chromium(tmp, "--dump-dom", html.as_uri())
    console = [line for line in res.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == [], console
    dom = res.stdout
    assert dom.count('class="main-svg"') >= 2 * len(report["files"][0]["panels"])
    assert re.search(r'class="scatterlayer', dom)
    cells = re.findall(r'data-path="([^"]+)">([^<]*)<', dom)
    assert len(cells) > 60
    for path, shown in cells:
        doc = report
        for part in path.strip("/").split("/"):
            doc = doc[int(part)] if isinstance(doc, list) else doc[part]
        assert shown == fmt(doc), path


def test_panels_render_on_screen(page):
    from PIL import Image

    html, _, tmp = page
    shot = tmp / "shot.png"
    _chromium(tmp, f"--screenshot={shot}", "--window-size=1300,3600", html.as_uri())
    img = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    saturated = (img.max(axis=2) - img.min(axis=2)) > 120  # the label colours of the points
    assert saturated.sum() > 300, saturated.sum()
