"""The report as one self-contained HTML page: styles, plotly.js and figures inline, no network.

Every number on the page is printed by ``fmt`` from the report's JSON and its cell carries the
JSON pointer it came from (``data-path="/files/0/check/methods/3/spearman"``), so a browser test
can check that the page says what ``--json`` says.
"""

from __future__ import annotations

import html
import json

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1280px;color:#222;
padding:0 16px}
h1{font-size:22px}h2{font-size:18px;border-top:2px solid #ddd;padding-top:14px;margin-top:32px}
h3{font-size:15px;margin-bottom:4px}table{border-collapse:collapse;margin:6px 0 14px}
td,th{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
.rec{background:#eef6ee;border-left:4px solid #2a7;padding:8px 12px;margin:10px 0}
.skip{background:#fff6e6;border-left:4px solid #e90;padding:8px 12px}
.muted{color:#666}code{background:#f4f4f4;padding:0 3px}tr.pick td{background:#f3fbf3}
"""
CHECK_COLUMNS = (("invariance_error", "invariance error"), ("orbit_distance", "orbit distance"),
                 ("spearman", "Spearman"), ("trustworthiness", "trustworthiness"),
                 ("collisions", "collisions"), ("copies_spread", "real copies"),
                 ("seconds", "seconds"))  # fmt: skip
GUARANTEES = ("invariant", "injective on orbits", "isometric", "convex image", "output size",
              "element")  # fmt: skip


def fmt(value) -> str:
    """How the page prints a JSON value: 4 significant digits, '–' for none."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def num(value, path: str) -> str:
    """A table cell holding one JSON number, tagged with its pointer."""
    return f'<td class="n" data-path="{path}">{html.escape(fmt(value))}</td>'


def page(report: dict, figures: list[list], plotly_js: str) -> str:
    """The whole page."""
    body = [f"<h1>invlatent report</h1>{_header(report)}"]
    for i, (section, figs) in enumerate(zip(report["files"], figures, strict=True)):
        body.append(_file(section, figs, f"/files/{i}", i))
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<title>invlatent report</title>"
        f"<style>{STYLE}</style><script>{plotly_js}</script></head>"
        f"<body>{''.join(body)}</body></html>"
    )


def _header(report: dict) -> str:
    opts = ", ".join(f"{k} {fmt(v)}" for k, v in report["settings"].items())
    files = ", ".join(html.escape(f["file"]) for f in report["files"])
    out = (
        f"<p>Files: {files}. invlatent {html.escape(report['version'])}; settings: "
        f"{html.escape(opts)}. The principles (Hansen, Calissano &amp; Feragen, ICML 2024), in "
        "order: invariant (measured), injective on orbits, an isometric cross section where one "
        "exists, otherwise keep and measure as much as possible.</p>"
    )
    return out + _skipped(report["skipped"])


def _skipped(items: list[str]) -> str:
    if not items:
        return "<p class='muted'>Nothing was skipped.</p>"
    lines = "".join(f"<li>{html.escape(s)}</li>" for s in items)
    return f"<div class='skip'><b>Skipped</b><ul>{lines}</ul></div>"


def _file(f: dict, figs: list, path: str, index: int) -> str:
    name = f"<span class='muted'>{html.escape(f['name'])}</span>"
    parts = [f"<h2>{html.escape(f['file'])} {name}</h2>"]
    parts.append(_facts(f))
    rec = f["recommendation"]
    pick = html.escape(rec["method"] or "none")
    parts.append(f"<div class='rec'><b>Recommended: <code data-path='{path}/recommendation/"
                 f"method'>{pick}</code></b><br>{html.escape(rec['reason'])}</div>")  # fmt: skip
    parts.append(_history(f["history"]))
    parts.append(_projections(f, path))
    for j, p in enumerate(f["probes"]):
        parts.append(_probe(p, f"{path}/probes/{j}", rec["method"]))
    parts.append(_panels(f["panels"], figs, f"{path}/panels", index))
    return "".join(parts)


def _facts(f: dict) -> str:
    labels = "none" if f["labels"] is None else f"{f['labels']} classes"
    targets = ", ".join(f["targets"]) or "none"
    return (
        f"<p>{f['rows']} rows, action <code>{html.escape(f['action'])}</code>, z per row "
        f"{' × '.join(map(str, f['shape']))}; labels: {labels}; targets: {html.escape(targets)};"
        f" ids: {fmt(f['ids'])}; applied elements g: {fmt(f['g'])}.</p>"
    )


def _history(steps: list[dict]) -> str:
    rows = "".join(
        f"<tr><td>{i + 1}</td><td>{html.escape(str(s.get('command')))}</td>"
        f"<td><code>{html.escape(json.dumps(s.get('options', {}), sort_keys=True))}</code></td>"
        f"<td>{html.escape(fmt(s.get('seed')))}</td><td>{html.escape(str(s.get('version')))}"
        "</td></tr>"
        for i, s in enumerate(steps)
    )
    head = "<tr><th>step</th><th>command</th><th>options</th><th>seed</th><th>version</th></tr>"
    return f"<h3>History</h3><table>{head}{rows or '<tr><td colspan=5>none</td></tr>'}</table>"


def _projections(f: dict, path: str) -> str:
    check = f["check"]
    found = [] if check is None else check["methods"]
    measured = {r["method"]: (i, r) for i, r in enumerate(found)}
    head = "".join(f"<th>{h}</th>" for h in ("method", *GUARANTEES))
    head += "".join(f"<th>{label}</th>" for _, label in CHECK_COLUMNS)
    rows = []
    for g in f["projections"]:
        m = g["method"]
        cells = "".join(f"<td>{html.escape(g[c])}</td>" for c in GUARANTEES)
        if m in measured:
            i, r = measured[m]
            here = f"{path}/check/methods/{i}"
            cells += "".join(num(r.get(k), f"{here}/{k}") for k, _ in CHECK_COLUMNS)
        else:
            cells += f"<td colspan={len(CHECK_COLUMNS)} class='muted'>not measured</td>"
        pick = " class='pick'" if m == f["recommendation"]["method"] else ""
        rows.append(f"<tr{pick}><td><code>{html.escape(m)}</code></td>{cells}</tr>")
    note = (
        "Declared guarantees beside <code>invlatent check</code>'s measurements"
        + (
            ""
            if check is None
            else f" ({check['samples']} sampled rows, {check['pairs']} pairs, seed {check['seed']})"
        )  # fmt: skip
        + ": invariance error and orbit distance relative to the mean norm; Spearman and "
        "trustworthiness against exact quotient distances; see docs/projections.md."
    )
    table = f"<table><tr>{head}</tr>{''.join(rows)}</table>"
    return f"<h3>Projections</h3><p class='muted'>{note}</p>{table}"


def _probe(p: dict, path: str, picked: str | None) -> str:
    proto = p["protocol"]
    facts = ", ".join(f"{k} {v}" for k, v in proto.items() if v is not None)
    target = ", ".join(p["target"])
    head = (
        f"<tr><th>latents</th><th>features</th><th>{p['metric']} (mean)</th>"
        "<th>95 % low</th><th>95 % high</th><th>Δ vs raw</th><th>significant</th></tr>"
    )
    rows = "".join(
        f"<tr{' class=pick' if r['method'] == picked else ''}><td>{html.escape(r['name'])}"
        f"{' (flattened, not invariant)' if r['flattened'] else ''}</td>"
        f"{num(r['dim'], f'{path}/rows/{i}/dim')}{num(r['mean'], f'{path}/rows/{i}/mean')}"
        f"{num(r['ci95'][0], f'{path}/rows/{i}/ci95/0')}"
        f"{num(r['ci95'][1], f'{path}/rows/{i}/ci95/1')}{_vs_raw(r, f'{path}/rows/{i}')}</tr>"
        for i, r in enumerate(p["rows"])
    )
    warn = "".join(f"<li>{html.escape(w)}</li>" for w in p["warnings"])
    return (
        f"<h3>Probe: {html.escape(p['probe'])} on {html.escape(target)}</h3>"
        f"<p class='muted'>Protocol: {html.escape(facts)}; seed {p['seed']}.</p>"
        f"{'<ul>' + warn + '</ul>' if warn else ''}<table>{head}{rows}</table>"
    )


def _vs_raw(row: dict, path: str) -> str:
    """The paired difference from the raw latents and whether it is significant."""
    vs = row.get("vs_raw")
    if vs is None:
        return "<td>baseline</td><td></td>"
    mark = "yes" if vs["significant"] else "no"
    return f"{num(vs['difference'], f'{path}/vs_raw/difference')}<td>{mark}</td>"


def _panels(facts: list[dict], figs: list, path: str, index: int) -> str:
    import plotly.io as pio

    if not facts:
        return "<h3>Panels</h3><p class='muted'>No panels (see Skipped).</p>"
    out = ["<h3>Panels</h3><p class='muted'>Hover a point for its id, label and targets; click "
           "a legend entry to show or hide a class or an orbit (the images of one sample under "
           "the group, drawn in both panels).</p>"]  # fmt: skip
    for j, (fact, fig) in enumerate(zip(facts, figs, strict=True)):
        p = f"{path}/{j}"
        out.append(
            f"<table><tr><th>embedding</th><th>points</th><th>orbits</th>"
            f"<th>orbit spread, raw</th><th>orbit spread, {html.escape(fact['projection'])}</th>"
            f"</tr><tr><td>{fact['embedding']}</td>{num(fact['points'], p + '/points')}"
            f"{num(fact['orbits'], p + '/orbits')}"
            f"{num(fact['orbit_spread_raw'], p + '/orbit_spread_raw')}"
            f"{num(fact['orbit_spread_projected'], p + '/orbit_spread_projected')}</tr></table>"
        )
        div = f"panel-{index}-{j}"
        config = {"displaylogo": False}
        out.append(pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=div,
                               config=config))  # fmt: skip
    return "".join(out)
