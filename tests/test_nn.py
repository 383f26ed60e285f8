"""``invlatent.nn.Projection``: the CLI's values for every registry method, gradients where the
maths has them (gradcheck in float64), an invariant head trained end to end, torch.export."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import invlatent  # noqa: E402
from invlatent.nn import Projection  # noqa: E402
from invlatent.projections import get_method, project_array  # noqa: E402
from tests.test_projections import CASES, make_batch  # noqa: E402

EXACT = {"pool-max", "max", "sort", "colsort", "raw", "identity", "spatial-max", "canonical"}
DIFFERENTIABLE = [(g, m) for g, m in CASES if get_method(g, m).differentiable]
FIXED_SHAPE = [("c8", "pool-max"), ("c8", "pool-mean"), ("c8", "power"), ("sn", "sort"),
               ("o3:2x0e+1x1o+1x2e", "norm"), ("o3:2x0e+2x1o+1x2e", "power")]  # fmt: skip


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: tiny ops under two threads on a busy 2-core machine wait for each
    other (a 200 x 16 rfft took 20 ms instead of 0.02 ms)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _tensors(group, rng, b, dtype=torch.float32):
    z, mask = make_batch(group, rng, b=b)
    return torch.tensor(z, dtype=dtype), None if mask is None else torch.from_numpy(mask)


@pytest.mark.parametrize("group,method", CASES)
def test_every_method_gives_the_clis_values(rng, group, method):
    z, mask = make_batch(group, rng, b=12)
    ref = project_array(group, z, mask, method=method)
    out = Projection(group, method)(
        torch.from_numpy(z), None if mask is None else torch.from_numpy(mask)
    )
    assert out.dtype == torch.float32 and out.shape == ref.shape
    if method in EXACT:
        assert np.array_equal(out.numpy(), ref), (group, method)
    else:
        scale = max(float(np.abs(ref).max()), 1e-30)
        assert np.abs(out.numpy() - ref).max() <= 1e-5 * scale, (group, method)


@pytest.mark.parametrize("key_channel", [None, 2])
def test_the_tensor_node_order_is_numpys_with_ties_and_padding(rng, key_channel):
    """The one twin (docs/projections.md): a tensor's node order comes from stable argsorts,
    numpy's from an argsort plus a lexsort of tied rows; small integers make many ties."""
    z = rng.integers(0, 3, (40, 6, 3)).astype(np.float32)
    mask = rng.random((40, 6)) < 0.7
    for m in (None, mask):
        ref = project_array("sn", z, m, method="sort", key_channel=key_channel)
        module = Projection("sn", "sort", key_channel=key_channel)
        out = module(torch.from_numpy(z), None if m is None else torch.from_numpy(m))
        assert np.array_equal(out.numpy(), ref)


@pytest.mark.parametrize("group,method", DIFFERENTIABLE)
def test_gradcheck_in_float64(rng, group, method):
    z, mask = _tensors(group, rng, b=2, dtype=torch.float64)
    if mask is not None:
        mask[0, :2] = True  # a row with real nodes and padding
    z.requires_grad_(True)
    module = Projection(group, method)
    assert torch.autograd.gradcheck(
        lambda x: module(x, mask), (z,), eps=1e-6, atol=1e-5, fast_mode=True
    )


@pytest.mark.parametrize(
    "group,method", [("c8", "canonical"), ("c8", "random-max"), ("sn", "sortembed")]
)
def test_a_non_differentiable_method_refuses_a_tensor_that_requires_grad(rng, group, method):
    z, _ = _tensors(group, rng, b=3)
    with pytest.raises(invlatent.InvlatentError, match="not differentiable"):
        Projection(group, method)(z.requires_grad_(True))
    with torch.no_grad():
        assert Projection(group, method)(z).shape[0] == 3


def test_bad_input_is_one_error_naming_the_argument(rng):
    module = Projection("sn", "sum")
    with pytest.raises(invlatent.InvlatentError, match="z: expected a torch tensor"):
        module(np.zeros((2, 3, 1)))
    with pytest.raises(invlatent.InvlatentError, match="z: dtype torch.complex64"):
        module(torch.zeros((2, 3, 1), dtype=torch.complex64))
    with pytest.raises(invlatent.InvlatentError, match="mask has shape"):
        module(torch.zeros((2, 3, 1)), torch.ones((2, 4), dtype=torch.bool))
    with pytest.raises(invlatent.InvlatentError, match="mask: expected"):
        module(torch.zeros((2, 3, 1)), torch.ones((2, 3)))
    with pytest.raises(invlatent.InvlatentError, match="unknown method"):
        Projection("c8", "sort")


def test_api_project_of_a_tensor_that_requires_grad_is_differentiable(rng):
    z, _ = _tensors("c8", rng, b=4)
    out = invlatent.project(z.requires_grad_(True), "c8", "power")
    out.sum().backward()
    assert z.grad is not None and z.grad.shape == z.shape


def test_an_invariant_head_trains_end_to_end_and_its_predictions_are_invariant():
    """Four classes of C8 orbits: the bispectrum separates them, a linear head on it learns to
    (one generator, 300 gradient steps); rotated inputs get the same predictions."""
    gen = torch.Generator().manual_seed(0)
    protos = torch.randn(4, 2, 8, generator=gen)
    y = torch.arange(200) % 4
    shifts = torch.randint(0, 8, (200,), generator=gen)
    z = torch.stack([torch.roll(protos[c], int(s), -1) for c, s in zip(y, shifts, strict=True)])
    z = z + 0.05 * torch.randn(z.shape, generator=gen)
    head = torch.nn.Sequential(Projection("c8", "power"), torch.nn.Linear(10, 4))
    with torch.no_grad():
        head[1].weight.copy_(0.1 * torch.randn(4, 10, generator=gen))
        head[1].bias.zero_()
    for _ in range(300):  # plain gradient descent (torch.optim's first use costs seconds)
        head.zero_grad()
        torch.nn.functional.cross_entropy(head(z), y).backward()
        with torch.no_grad():
            for p in head.parameters():
                p -= 0.2 * p.grad
    with torch.no_grad():
        pred = head(z).argmax(1)
        turned = head(torch.roll(z, 3, -1)).argmax(1)
    assert (pred == y).float().mean() > 0.9
    assert torch.equal(pred, turned)


@pytest.mark.parametrize("group,method", FIXED_SHAPE)
def test_fixed_shape_methods_export(rng, group, method):
    z, _ = _tensors(group, rng, b=4)
    module = Projection(group, method)
    exported = torch.export.export(module, (z,))
    assert torch.allclose(exported.module()(z), module(z))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cuda_tensors_stay_on_the_device(rng, dtype):
    for group, method in [
        ("c8", "bispectrum"),
        ("sn", "sort"),
        ("o3:2x0e+1x1o+1x2e", "power"),
        ("c8", "canonical"),
    ]:
        z, mask = _tensors(group, rng, b=8, dtype=dtype)
        out = Projection(group, method)(z.cuda(), None if mask is None else mask.cuda())
        assert out.device.type == "cuda" and out.dtype == dtype
        ref = Projection(group, method)(z, mask)
        assert torch.allclose(out.cpu(), ref, rtol=1e-5, atol=1e-6)
