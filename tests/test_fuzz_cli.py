"""A short run of scripts/fuzz_cli.py (issue 22 §6): malformed files, hostile options and
special paths against the real CLI, each case in a forked child under a time and memory limit;
no case may trace back, hang, blow up, write NaN, run a payload or clobber a special file."""

import importlib.util
import json
import pathlib
import sys

SCRIPT = pathlib.Path(__file__).parent.parent / "scripts" / "fuzz_cli.py"


def test_a_short_fuzz_run_finds_nothing_bad(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("fuzz_cli", SCRIPT)
    fuzz = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "fuzz_cli", fuzz)  # its dataclasses look themselves up
    spec.loader.exec_module(fuzz)
    kinds = "header,meta,degenerate,options,paths,streams"
    args = ["--light", "--cases", "24", "--seed", "3", "--kinds", kinds, "--timeout", "60"]
    code = fuzz.main([*args, "--json", str(tmp_path / "runs.json")])
    runs = json.loads((tmp_path / "runs.json").read_text())
    bad = [r for r in runs["runs"] if r["class"] in fuzz.BAD]
    assert code == 0 and not bad, bad
    assert sum(runs["counts"].values()) == 24
    assert runs["counts"].get("error", 0) > 12  # most generated inputs are refused, one line each
