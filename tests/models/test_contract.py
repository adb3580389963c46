"""The contract every model family passes: shapes, range, state_dict round-trip, one step moves."""

import math

import pytest
import torch
from torch import nn

from knowgen.models import GENERATORS, ModelConfig, build_discriminator, build_generator

# tolerances on float arithmetic: also run under other kernel sets (make test)
pytestmark = pytest.mark.machine_sensitive

SHAPES = [(1, 28, 28), (3, 64, 64)]


@pytest.mark.parametrize("name", sorted(GENERATORS))
@pytest.mark.parametrize("shape", SHAPES)
def test_shapes_and_range(name, shape):
    torch.manual_seed(0)
    cfg = ModelConfig(name=name, z_dim=16, width=8)
    generator, discriminator = build_generator(cfg, shape), build_discriminator(cfg, shape)
    images = generator.eval()(torch.randn(4, 16))
    assert images.shape == (4, *shape)
    assert images.min() >= -1 and images.max() <= 1
    assert discriminator(images).shape == (4,)


def test_resnet_last_layer_sees_the_same_features_however_large_the_trunk_grows():
    """The pixel norm before G's last layer: trunk activations 100x larger (all biases are zero
    at initialisation and leaky ReLU is homogeneous) give the same images, so they cannot push
    tanh into saturation, the start-up collapse it prevents."""
    torch.manual_seed(0)
    generator = build_generator(ModelConfig(name="resnet", z_dim=16, width=8), (1, 28, 28))
    z = torch.randn(4, 16)
    before = generator(z)
    with torch.no_grad():
        generator.project.weight.mul_(100)
    assert torch.allclose(generator(z), before, atol=1e-5)


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_state_dict_round_trip(name):
    cfg, shape = ModelConfig(name=name, z_dim=8, width=8), (1, 28, 28)
    torch.manual_seed(0)
    first = build_generator(cfg, shape).eval()
    torch.manual_seed(1)
    second = build_generator(cfg, shape).eval()
    second.load_state_dict(first.state_dict())
    z = torch.randn(3, 8)
    assert torch.equal(first(z), second(z))


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_two_d_and_g_steps_move_every_parameter(name):
    """Two steps, not one: a fix-up residual block's last convolution starts at zero, so the
    layers before it get their first gradient only once it has moved (resnet)."""
    torch.manual_seed(0)
    cfg, shape = ModelConfig(name=name, z_dim=8, width=8), (1, 28, 28)
    generator, discriminator = build_generator(cfg, shape), build_discriminator(cfg, shape)
    for model, loss_of in (
        (discriminator, lambda: discriminator(torch.rand(4, *shape) * 2 - 1).mean()),
        (generator, lambda: discriminator(generator(torch.randn(4, 8))).mean()),
    ):
        before = [p.detach().clone() for p in model.parameters()]
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        for _ in range(2):
            optimizer.zero_grad()
            loss_of().backward()
            optimizer.step()
        moved = [not torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True)]
        assert all(moved), f"{name}: some {type(model).__name__} parameters did not move"


def test_linear_discriminator_is_the_formula():
    torch.manual_seed(0)
    discriminator = build_discriminator(ModelConfig(name="linear"), (1, 4, 4))
    x = torch.randn(5, 1, 4, 4)
    augmented = torch.cat([x.flatten(1), torch.ones(5, 1)], 1)
    expected = torch.sigmoid(augmented @ discriminator.weight.T).squeeze(1)
    assert torch.allclose(torch.sigmoid(discriminator(x)), expected)


def test_linear_generator_is_the_formula():
    generator = build_generator(ModelConfig(name="linear", z_dim=6), (1, 2, 3))
    z = torch.randn(4, 6)
    expected = torch.tanh(z @ generator.linear.weight.T + generator.linear.bias).view(4, 1, 2, 3)
    assert torch.allclose(generator(z), expected)


def test_seed_models_follow_the_listing():
    cfg = ModelConfig(name="seed", d_batchnorm=True)
    generator = build_generator(cfg, (3, 64, 64))
    layers = [type(m).__name__ for m in generator.net]
    assert layers == ["Linear", "LeakyReLU", "BatchNorm1d", "Linear", "Tanh"]
    assert generator.net[0].out_features == 128 and generator.net[3].out_features == 64 * 64 * 3
    assert math.isclose(generator.net[2].momentum, 0.2)  # Keras momentum 0.8
    discriminator = build_discriminator(cfg, (3, 64, 64))
    convs = [m for m in discriminator.features if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [
        (64, (4, 4), (2, 2)),
        (128, (4, 4), (2, 2)),
        (256, (4, 4), (2, 2)),
    ]
    assert discriminator.head.in_features == 256 * 8 * 8  # 'same' padding: 64 -> 32 -> 16 -> 8
    assert build_discriminator(cfg, (1, 28, 28)).head.in_features == 256 * 4 * 4  # 28->14->7->4
    assert sum(isinstance(m, nn.BatchNorm2d) for m in discriminator.features) == 3
    without = build_discriminator(ModelConfig(name="seed", d_batchnorm=False), (1, 28, 28))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in without.features)


def test_dcgan_projection_equals_the_transposed_convolution():
    torch.manual_seed(0)
    generator = build_generator(ModelConfig(z_dim=10, width=8), (1, 28, 28))
    z = torch.randn(4, 10)
    by_conv = generator.project(z[:, :, None, None])
    by_matmul = (z @ generator.project.weight.flatten(1)).view(-1, *generator.grid)
    assert torch.allclose(by_conv, by_matmul, atol=1e-6)


def test_dcgan_at_64px_is_the_tutorial_network():
    generator = build_generator(ModelConfig(), (3, 64, 64))
    convs = [generator.project] + [m for m in generator.net if isinstance(m, nn.ConvTranspose2d)]
    assert [c.out_channels for c in convs] == [512, 256, 128, 64, 3]


def test_dcgan_rejects_sizes_it_cannot_build():
    with pytest.raises(ValueError, match="divisible by 2"):
        build_generator(ModelConfig(), (1, 7, 7))


@pytest.mark.parametrize("name", sorted(GENERATORS))
@pytest.mark.parametrize("codes", [False, True])
def test_every_network_declares_its_capabilities(name, codes):
    """Callers read `num_classes`, `encoder`, `q_head` as attributes; nothing is sniffed."""
    if codes and name == "linear":
        return  # InfoGAN needs a D trunk (refused by ModelConfig)
    extra = {"info_categorical": (3,)} if codes else {}
    cfg = ModelConfig(name=name, z_dim=8, width=8, **extra)
    generator = build_generator(cfg, (1, 28, 28))
    discriminator = build_discriminator(cfg, (1, 28, 28))
    assert generator.z_dim == 8 + 3 * codes and generator.num_classes == 0
    assert generator.encoder is None
    assert discriminator.num_classes == 0 and discriminator.encoder is None
    assert discriminator.q_head is None  # the training state attaches one for codes
