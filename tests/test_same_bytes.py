"""Same bytes however the work is cut (issue 24 §4): for every method of every family of the
registry, the projection of a row does not depend on the chunk size (in memory or streamed from
a file), the number of BLAS threads, or the row's offset in the batch."""

from __future__ import annotations

from dataclasses import replace

import pytest
from threadpoolctl import threadpool_limits

import invlatent
from invlatent.format import streaming
from invlatent.format.latentfile import LatentFile
from invlatent.groups.action import Action
from invlatent.projections import _base, project_with_extras
from tests.test_projections import CASES, make_batch


def _project(group, method, z, mask):
    out, extras = project_with_extras(group, z, mask, method=method, seed=5)
    return [out, *(extras[k] for k in sorted(extras))]


def _same(a, b, what):
    assert len(a) == len(b), what
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), what


@pytest.mark.parametrize("group,method", CASES)
def test_chunks_threads_and_offsets_do_not_change_a_byte(monkeypatch, rng, group, method):
    slow = group.startswith(("o3", "so3")) and method == "random-max"  # a search per row
    z, mask = make_batch(group, rng, b=12 if slow else 70)  # > one 64-row block of rowwise_matmul
    with threadpool_limits(limits=1):
        whole = _project(group, method, z, mask)
    with threadpool_limits(limits=2):
        _same(whole, _project(group, method, z, mask), "2 threads")
    monkeypatch.setattr(_base, "CHUNK_BYTES", 3 * z[0].nbytes)  # chunks of 3 rows
    _same(whole, _project(group, method, z, mask), "3-row chunks")
    off = _project(group, method, z[9:], None if mask is None else mask[9:])
    _same([w[9:] for w in whole], off, "offset 9")


ONE_GROUP_PER_FAMILY = ("sn", "d4", "c4:grid", "so2:0,1,1,2,3", "o3:2x0e+1x1o+1x2e",
                        "sn*o3:1x0e+1x1o+1x2e", "trivial")  # fmt: skip


@pytest.mark.parametrize("group,method", [c for c in CASES if c[0] in ONE_GROUP_PER_FAMILY])
def test_streamed_chunks_give_the_bytes_of_one_pass(monkeypatch, tmp_path, rng, group, method):
    z, mask = make_batch(group, rng, b=8 if method == "random-max" else 20)
    src = tmp_path / "z.st"
    invlatent.save(src, LatentFile(z=z, action=Action.parse(group), mask=mask))
    plan = streaming.plan
    outputs = []
    for rows in (len(z), 3, 1):
        monkeypatch.setattr(
            streaming, "plan", lambda *a, rows=rows, **k: replace(plan(*a, **k), chunk_rows=rows)
        )
        dest = tmp_path / f"p{rows}.st"
        streaming.project_file(
            str(src), str(dest), method, seed=5, dim=None, key_channel=None, label="z.st"
        )
        outputs.append(dest.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]
