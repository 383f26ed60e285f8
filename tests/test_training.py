"""The pipelines' shared training toolkit: schedule, clock and the seeded scope."""

import torch

from invlatent.pipelines.training import Clock, cosine, seeded


def test_the_cosine_schedule_warms_up_then_decays_to_its_floor():
    warm, floor = 0.1, 0.05
    ramp = [cosine(f, warm, floor) for f in (0.0, 0.05, 0.0999)]
    assert ramp == sorted(ramp) and ramp[0] < 0.05
    assert abs(cosine(warm, warm, floor) - 1.0) < 1e-12
    assert abs(cosine(1.0, warm, floor) - floor) < 1e-12
    decay = [cosine(f, warm, floor) for f in (0.2, 0.5, 0.9)]
    assert decay == sorted(decay, reverse=True)


def test_the_clock_counts_steps_without_a_budget():
    clock = Clock(total_steps=4, max_minutes=None)
    clock.step = 3
    assert clock.fraction() == 0.75


def test_a_seeded_scope_is_reproducible_and_leaves_the_global_generator_alone():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    with seeded(7):
        a = torch.rand(3)
    with seeded(7):
        b = torch.rand(3)
    assert torch.equal(a, b)
    assert torch.equal(torch.random.get_rng_state(), before)
