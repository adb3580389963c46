from unittest.mock import patch

import pytest
import torch

from knowgen.models.layers import SameConv2d, flatten_features, same_padding
from knowgen.models.resnet import ResNetDiscriminator

# tolerances on float arithmetic: also run under other kernel sets (make test)
pytestmark = pytest.mark.machine_sensitive


def test_same_padding_matches_tensorflow():
    assert same_padding(28, 4, 2) == (1, 1)
    assert same_padding(7, 4, 2) == (1, 2)  # odd total: the extra pixel goes after
    assert same_padding(5, 3, 1) == (1, 1)


def test_same_conv_output_is_ceil_of_input_over_stride():
    conv = SameConv2d(1, 2, kernel_size=4, stride=2)
    for side in (28, 7, 64, 9):
        assert conv(torch.zeros(1, 1, side, side)).shape[-1] == -(-side // 2)


def test_flatten_features_keeps_values_and_hands_back_a_channels_last_gradient():
    x = torch.randn(2, 3, 4, 4).contiguous(memory_format=torch.channels_last).requires_grad_(True)
    flat = flatten_features(x)
    assert torch.equal(flat, x.flatten(1))  # the (C, H, W) order of a plain flatten
    weights = torch.randn_like(flat)
    (grad,) = torch.autograd.grad((flat * weights).sum(), x)
    assert grad.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(grad, weights.view_as(x))


def test_resnet_d_gradients_and_r1_are_unchanged_by_the_layout_keeping_flatten():
    """The same D judged through flatten_features and through plain flatten: equal logits,
    equal input gradients with a graph (R1's double backward), equal weight gradients."""
    torch.manual_seed(0)
    net = ResNetDiscriminator((1, 28, 28), width=8, expansion=1, group_width=1024)
    net = net.to(memory_format=torch.channels_last)
    for conv in net.modules():  # fix-up starts every block at zero: give them weights to test
        if isinstance(conv, torch.nn.Conv2d):
            torch.nn.init.normal_(conv.weight, std=0.1)
    images = torch.randn(3, 1, 28, 28).contiguous(memory_format=torch.channels_last)

    def r1_and_grads(flatten):
        leaf = images.clone().requires_grad_(True)
        with patch("knowgen.models.resnet.flatten_features", flatten):
            logits = net(leaf)
        (grad,) = torch.autograd.grad(logits.sum(), leaf, create_graph=True)
        penalty = grad.pow(2).sum()
        net.zero_grad()
        penalty.backward()
        return logits.detach(), [p.grad.clone() for p in net.parameters() if p.grad is not None]

    logits_new, grads_new = r1_and_grads(flatten_features)
    logits_old, grads_old = r1_and_grads(lambda x: x.flatten(1))
    assert torch.allclose(logits_new, logits_old)
    assert len(grads_new) == len(grads_old) > 0
    for a, b in zip(grads_new, grads_old, strict=True):
        assert torch.allclose(a, b, atol=1e-6)
