"""Property tests of the parsers (issue 22 §6): for any generated input, the safetensors header
parser, the metadata and history parser, the action and irreps parsers and the side-tensor
checks give a valid result or one ``InvlatentError``, within bounded time (hypothesis' deadline)
and memory (tracemalloc's peak)."""

import json
import struct
import tracemalloc

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from invlatent.errors import InvlatentError
from invlatent.format import latentfile as lfm
from invlatent.format import safetensors_io as sio
from invlatent.groups.action import Action
from invlatent.groups.irreps import MAX_DIM, Irreps

QUICK = settings(max_examples=60, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
PEAK = 64 << 20  # bytes any one parse may allocate

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
sizes = st.lists(st.integers(-3, 2**64) | json_values, max_size=5)
entries = st.fixed_dictionaries(
    {
        "dtype": st.sampled_from(list(sio.DTYPES)) | json_values,
        "shape": sizes | json_values,
        "data_offsets": st.lists(st.integers(-3, 2**64), max_size=3) | json_values,
    }  # fmt: skip
)
names = st.sampled_from(["z", "labels", "mask", "g", "targets", "ids"]) | st.text(max_size=4)
action_text = st.text(alphabet="cdsno23*:+,xeoy0123456789²٣ ", max_size=30) | st.sampled_from(
    ["c8", "d4:grid", "so2:0,1x3", "o3:2x0e+1x1o", "sn*so3:1x1o", "sn", "trivial", "c1000000"]
)


def bounded(fn, *args):
    """``fn(*args)``, asserting that it allocated at most ``PEAK`` bytes; an ``InvlatentError``
    is a valid outcome and is returned instead of raised."""
    tracemalloc.start()
    try:
        out = fn(*args)
    except InvlatentError as e:
        out = e
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < PEAK, peak
    return out


def blob(header: dict, data: bytes) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


@QUICK
@given(st.dictionaries(names, entries | json_values, max_size=4), st.binary(max_size=200))
def test_any_header_is_a_valid_layout_or_one_error(header, data):
    out = bounded(sio.parse_bytes, blob(header, data))
    assert isinstance(out, (sio.Header, sio.SafetensorsError))
    if isinstance(out, sio.Header):
        for info in out.tensors.values():
            assert 0 <= info.start <= info.end <= out.data_size
            assert (
                info.end - info.start == int(np.prod(info.shape)) * sio.DTYPES[info.dtype].itemsize
            )


@QUICK
@given(
    action=action_text,
    history=st.one_of(json_values.map(json.dumps), st.text(max_size=20)),
    targets=st.one_of(st.none(), json_values.map(json.dumps)),
    g_kind=st.one_of(st.none(), st.sampled_from(["index", "perm", "angle", "rotation", "x"])),
)
def test_any_metadata_is_a_valid_latent_file_or_one_error(action, history, targets, g_kind):
    meta = {"format": lfm.FORMAT, "action": action, "history": history}
    meta.update({k: v for k, v in {"targets": targets, "g_kind": g_kind}.items() if v is not None})
    z = np.zeros((2, 2, 4), np.float32)
    tensors = {"z": z, "g": np.zeros(2, np.int64), "targets": np.zeros((2, 2), np.float32)}
    out = bounded(lfm.loads, b"".join(bytes(c) for c in sio.dumps(tensors, meta)))
    assert isinstance(out, (lfm.LatentFile, lfm.LatentFileError)), out
    if isinstance(out, lfm.LatentFile):
        assert all(isinstance(s, dict) for s in out.history)
        assert all(isinstance(t, str) for t in out.target_names)
        lfm.describe(out)  # what inspect and every history reader use


@QUICK
@given(action_text)
def test_any_action_string_parses_to_itself_or_one_error(text):
    out = bounded(Action.parse, text)
    if isinstance(out, Action):
        assert Action.parse(str(out)) == out


@QUICK
@given(st.text(alphabet="0123456789xeoy+ ", max_size=40))
def test_any_irreps_string_is_bounded_or_one_error(text):
    out = bounded(Irreps, text)
    if isinstance(out, Irreps):
        assert out.dim <= MAX_DIM


arrays = st.builds(
    lambda shape, dtype: np.zeros(shape, dtype),
    st.lists(st.integers(0, 4), min_size=0, max_size=3).map(tuple),
    st.sampled_from([np.float32, np.float64, np.int64, np.uint8, np.bool_, np.int8]),
)


@QUICK
@given(
    action=st.sampled_from(["c4", "sn", "so2:0,1", "o3:1x1o", "sn*o3:1x1o", "trivial"]),
    side=st.dictionaries(st.sampled_from(["mask", "labels", "targets", "g", "ids"]), arrays),
    g_kind=st.one_of(st.none(), st.sampled_from(lfm.G_KIND_VALUES)),
)
def test_any_side_tensors_validate_or_give_one_error(action, side, g_kind):
    shape = {"c4": (3, 2, 4), "sn": (3, 2, 2), "so2:0,1": (3, 3), "o3:1x1o": (3, 3)}.get(
        action, (3, 2, 3)
    )
    lf = lfm.LatentFile(
        z=np.ones(shape, np.float32), action=Action.parse(action), g_kind=g_kind, **side
    )
    out = bounded(lfm.validate, lf, "<test>")  # any other exception fails the test
    if out is None:  # valid: every per-row tensor has one row per row of z
        assert all(len(v) == len(lf) for v in lf.subset(np.arange(3)).tensors().values())
