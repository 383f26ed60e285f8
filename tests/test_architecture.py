"""The package's layers hold: import-linter's contracts, no import cycle, a readable root."""

import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "invlatent")
API_NAMES = {"load", "save", "project", "check", "probe", "recommend", "methods", "guarantees"}


def import_cycles(graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), imports inside functions
    included (grimp reads every import statement of a module)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.find_modules_directly_imported_by(v):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while (w := stack.pop()) != v:
                on.discard(w)
                comp.append(w)
            on.discard(v)
            if comp:
                out.append(sorted([v, *comp]))

    sys.setrecursionlimit(10_000)
    for m in sorted(graph.modules):
        if m not in index:
            visit(m)
    return out


def test_no_module_imports_a_module_that_imports_it_back():
    grimp = pytest.importorskip("grimp")
    assert import_cycles(grimp.build_graph("invlatent")) == []


def test_the_cycle_finder_finds_a_planted_cycle():
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("invlatent")
    graph.add_import(importer="invlatent.groups.action", imported="invlatent.cli")
    assert any("invlatent.cli" in c for c in import_cycles(graph))


def test_the_layer_contracts_are_kept():
    exe = shutil.which("lint-imports", path=os.path.dirname(sys.executable))
    if exe is None:
        pytest.skip("import-linter is not installed (pip install 'invlatent[dev]')")
    r = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:]
    assert "0 broken" in r.stdout


def test_the_root_holds_few_modules_none_named_like_the_api():
    loose = sorted(f[:-3] for f in os.listdir(PACKAGE) if f.endswith(".py"))
    assert len(loose) <= 6, loose
    folders = {f for f in os.listdir(PACKAGE) if os.path.isdir(os.path.join(PACKAGE, f))}
    assert not (set(loose) | folders) & API_NAMES


def test_no_module_outside_the_family_modules_asks_an_action_its_kind():
    comparison = re.compile(r"\.kind\s*(==|!=|in\b|not in\b)|action\.kind\b")
    families = (
        os.path.join(PACKAGE, "groups", "family.py"),
        os.path.join(PACKAGE, "groups", "families"),
    )
    found = []
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            path = os.path.join(folder, name)
            if not name.endswith(".py") or path.startswith(families):
                continue
            for i, line in enumerate(open(path, encoding="utf-8"), 1):
                if comparison.search(line) and not re.search(
                    r"(dtype|coloring|spec|self)\.kind", line
                ):
                    found.append(f"{os.path.relpath(path, ROOT)}:{i}: {line.strip()}")
    assert found == []


def test_library_code_does_not_print():
    allowed = (os.path.join(PACKAGE, "cli"), os.path.join(PACKAGE, "reporting.py"))
    found = []
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            path = os.path.join(folder, name)
            if name.endswith(".py") and not path.startswith(allowed):
                for i, line in enumerate(open(path, encoding="utf-8"), 1):
                    if re.search(r"(?<![\w.])print\(|sys\.std(out|err)\.write", line):
                        found.append(f"{os.path.relpath(path, ROOT)}:{i}")
    assert found == []


def test_messages_go_to_the_sink_the_caller_sets(capsys):
    from invlatent.reporting import say, sent_to

    heard = []
    with sent_to(heard.append):
        say("one")
    say("two")
    assert heard == ["one"] and capsys.readouterr().err == "two\n"
