"""run_probe takes latent files in memory as well as paths, with the same results."""

from __future__ import annotations

import json

from invlatent.analysis.probe import run_probe
from invlatent.format.latentfile import write
from invlatent.format.projected import project_latents
from invlatent.format.synthetic import make_synthetic


def test_in_memory_inputs_give_the_paths_report(tmp_path):
    raw = make_synthetic("c4", n_samples=120, fields=3, seed=1)
    inv = project_latents(raw, "power")
    paths = [str(tmp_path / "raw.st"), str(tmp_path / "inv.st")]
    write(raw, paths[0])
    write(inv, paths[1])
    from_paths = run_probe(paths, folds=3, seed=2)
    in_memory = run_probe([raw, inv], folds=3, seed=2)
    assert [r["file"] for r in in_memory["results"]] == ["<memory 0>", "<memory 1>"]
    assert [r["name"] for r in in_memory["results"]] == ["raw c4", "project:power"]
    text = json.dumps(in_memory)
    for i, p in enumerate(paths):
        text = text.replace(f'"<memory {i}>"', json.dumps(p))
    assert text == json.dumps(from_paths)
