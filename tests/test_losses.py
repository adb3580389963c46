import math

import torch

from knowgen.losses import (
    d_loss_hinge,
    d_loss_non_saturating,
    g_loss_non_saturating,
    gradient_penalty,
)


def test_non_saturating_losses_match_the_closed_form():
    real, fake = torch.tensor([2.0]), torch.tensor([-1.0])
    sigmoid = lambda t: 1 / (1 + math.exp(-t))  # noqa: E731
    expected_d = -math.log(sigmoid(2.0)) - math.log(1 - sigmoid(-1.0))
    assert math.isclose(d_loss_non_saturating(real, fake).item(), expected_d, rel_tol=1e-6)
    assert math.isclose(g_loss_non_saturating(fake).item(), -math.log(sigmoid(-1.0)), rel_tol=1e-6)


def test_hinge_is_zero_beyond_the_margin():
    assert d_loss_hinge(torch.tensor([1.5]), torch.tensor([-1.5])).item() == 0.0
    assert d_loss_hinge(torch.tensor([0.0]), torch.tensor([0.0])).item() == 2.0


def test_gradient_penalty_of_a_linear_critic_is_its_weight_norm_error():
    weight = torch.full((1, 1, 2, 2), 0.5)  # ||w|| = 1 -> penalty 0; scaled by 3 -> (3-1)^2 = 4
    real, fake = torch.randn(8, 1, 2, 2), torch.randn(8, 1, 2, 2)
    critic = lambda x: (x * weight).flatten(1).sum(1)  # noqa: E731
    assert gradient_penalty(critic, real, fake).item() < 1e-10
    critic3 = lambda x: 3 * (x * weight).flatten(1).sum(1)  # noqa: E731
    assert math.isclose(gradient_penalty(critic3, real, fake).item(), 4.0, rel_tol=1e-5)


def test_r1_penalty_of_a_linear_critic_is_its_squared_weight_norm():
    from knowgen.losses import r1_penalty

    weight = torch.tensor([3.0, -4.0])
    real = torch.randn(5, 2, requires_grad=True)
    assert torch.isclose(r1_penalty(real @ weight, real), torch.tensor(25.0))


def test_relativistic_pairing_losses_match_the_closed_form():
    from knowgen.losses import d_loss_relativistic, g_loss_relativistic

    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-1.0, 0.5])
    softplus = lambda t: math.log1p(math.exp(t))  # noqa: E731
    expected_d = (softplus(-1.0 - 2.0) + softplus(0.0)) / 2  # each fake paired with its real
    assert math.isclose(d_loss_relativistic(real, fake).item(), expected_d, rel_tol=1e-6)
    expected_g = (softplus(2.0 + 1.0) + softplus(0.0)) / 2
    assert math.isclose(g_loss_relativistic(fake, real).item(), expected_g, rel_tol=1e-6)


def test_rpgan_d_step_adds_r1_and_r2_on_lazy_steps(tiny_config):
    from knowgen.train.state import init_state
    from knowgen.train.steps import d_step, g_step, generate_fake

    cfg = tiny_config('loss.kind="rpgan"', "loss.r1_weight=1", "loss.r2_weight=1",
                      "loss.r1_every=2", "model.d_batchnorm=false")  # fmt: skip
    state = init_state(cfg.model, cfg.train, (1, 8, 8), torch.device("cpu"))
    real = torch.rand(16, 1, 8, 8) * 2 - 1
    fake = generate_fake(state, 16, with_grad=True)
    terms = d_step(state, real, None, fake, cfg.loss)
    assert {"d_adv", "d_r1", "d_r2"} <= terms.keys() and terms["d_r2"] > 0
    assert "g_adv" in g_step(state, fake, cfg.loss, real=real)
    state.step = 1  # not a regularisation step
    assert "d_r1" not in d_step(state, real, None, generate_fake(state, 16, False), cfg.loss)
