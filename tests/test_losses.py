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
