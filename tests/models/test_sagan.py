"""SAGAN-style models: conditioning shapes, the projection head, the auxiliary classifier,
spectral normalisation and config validation."""

import pytest
import torch
from torch import nn

from knowgen.config import resolve_config
from knowgen.knowledge.config import KnowledgeConfig
from knowgen.models import ModelConfig, build_discriminator, build_generator
from knowgen.models.layers import SelfAttention2d

# tolerances on float arithmetic: also run under other kernel sets (make test)
pytestmark = pytest.mark.machine_sensitive

COND = ModelConfig(name="sagan", z_dim=8, width=8, attention_at=(7,))
CLASS = KnowledgeConfig(condition="class")


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (1, 8, 8)])
def test_conditional_shapes(shape):
    cfg = ModelConfig(name="sagan", z_dim=8, width=8, aux_classifier=True)
    generator = build_generator(cfg, shape, 4, CLASS)
    discriminator = build_discriminator(cfg, shape, 4, CLASS)
    cond = {"class": torch.tensor([0, 1, 3])}
    images = generator(torch.randn(3, 8), cond)
    assert images.shape == (3, *shape) and images.abs().max() <= 1
    logits, _, aux = discriminator.judge(images, cond)
    assert logits.shape == (3,) and aux.shape == (3, 4)


def test_attention_sits_where_asked_in_both_networks():
    generator = build_generator(COND, (1, 28, 28), 10, CLASS)
    discriminator = build_discriminator(COND, (1, 28, 28), 10, CLASS)
    for net in (generator, discriminator):
        assert sum(isinstance(m, SelfAttention2d) for m in net.modules()) == 1
    with pytest.raises(ValueError, match=r"choose from \[7, 14\]"):
        build_generator(ModelConfig(name="sagan", attention_at=(28,)), (1, 28, 28))


def test_the_class_changes_the_generated_image():
    torch.manual_seed(0)
    generator = build_generator(COND, (1, 28, 28), 10, CLASS).train()
    for norm in generator.norms:  # FiLM starts at zero: give it something to say
        nn.init.normal_(norm.film.weight)
    z = torch.randn(1, 8).repeat(2, 1)
    images = generator(z, {"class": torch.tensor([0, 5])})
    assert not torch.allclose(images[0], images[1])


def test_projection_head_is_linear_plus_inner_product_with_the_class_embedding():
    torch.manual_seed(0)
    discriminator = build_discriminator(
        COND, (1, 28, 28), 10, CLASS
    ).eval()  # BatchNorm: fixed stats
    x, labels = torch.randn(4, 1, 28, 28), torch.tensor([0, 3, 3, 9])
    h = discriminator.features(x)
    expected = discriminator.head(h).flatten() + (discriminator.encoder.table(labels) * h).sum(1)
    assert torch.allclose(discriminator(x, {"class": labels}), expected, atol=1e-5)
    # the same image scored under two classes differs only by the projection term
    both = discriminator(x[:1].repeat(2, 1, 1, 1), {"class": torch.tensor([1, 2])})
    table = discriminator.encoder.table.weight
    assert torch.allclose(both[0] - both[1], ((table[1] - table[2]) * h[0]).sum(), atol=1e-4)


def test_unconditional_sagan_has_no_class_parts():
    cfg = ModelConfig(name="sagan", z_dim=8, width=8)
    generator, discriminator = (
        build_generator(cfg, (1, 28, 28), 10),
        build_discriminator(cfg, (1, 28, 28), 10),
    )
    assert generator.encoder is None and discriminator.encoder is None
    assert generator(torch.randn(2, 8)).shape == (2, 1, 28, 28)


def test_spectral_norm_bounds_each_weight_by_one():
    torch.manual_seed(0)
    cfg = ModelConfig(
        name="sagan",
        z_dim=8,
        width=8,
        spectral_norm_d=True,
        spectral_norm_g=True,
        attention_at=(7,),
    )
    discriminator = build_discriminator(cfg, (1, 28, 28), 10, CLASS)
    generator = build_generator(cfg, (1, 28, 28), 10, CLASS)
    x = torch.randn(4, 1, 28, 28)
    for _ in range(30):  # power iterations run in training-mode forwards
        discriminator(x, {"class": torch.zeros(4, dtype=torch.long)})
    conv = discriminator.trunk[0]
    sigma = torch.linalg.matrix_norm(conv.weight.flatten(1), ord=2)
    assert abs(float(sigma.detach()) - 1.0) < 0.05
    # FiLM layers start at zero and are left alone (their spectral norm would be 0/0)
    assert all(not hasattr(n.film, "parametrizations") for n in generator.norms)
    assert torch.isfinite(generator(torch.randn(2, 8), {"class": torch.tensor([1, 2])})).all()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (['model.name="dcgan"', 'knowledge.condition="class"'], "'sagan' or 'resnet'"),
        (['model.name="dcgan"', "model.attention_at=[7]"], "needs model.name='sagan'"),
        (['model.name="sagan"', "model.aux_classifier=true"], "needs knowledge.condition"),
    ],
)
def test_config_rejects_impossible_combinations(overrides, message):
    with pytest.raises(ValueError, match=message):
        resolve_config("dcgan", overrides)


def test_conditional_model_needs_labels():
    with pytest.raises(ValueError, match="needs a dataset with labels"):
        build_generator(COND, (1, 28, 28), 0, CLASS)


def test_transformer_attention_variant_builds_and_runs():
    cfg = ModelConfig(name="sagan", z_dim=8, width=8, attention="transformer", attention_at=(7, 14))
    generator = build_generator(cfg, (1, 28, 28))
    discriminator = build_discriminator(cfg, (1, 28, 28))
    images = generator(torch.randn(2, 8))
    assert discriminator(images).shape == (2,)
    assert sum(type(m).__name__ == "TransformerBlock2d" for m in generator.modules()) == 2


@pytest.mark.parametrize("side", [28, 32, 64])
def test_resnet_pair_sizes_and_starts_as_identity_blocks(side):
    from knowgen.models.resnet import ResidualBlock

    cfg = ModelConfig(name="resnet", z_dim=16, width=8)
    generator, discriminator = (
        build_generator(cfg, (3, side, side)),
        build_discriminator(cfg, (3, side, side)),
    )
    images = generator(torch.randn(4, 16))
    assert images.shape == (4, 3, side, side) and images.abs().max() <= 1
    assert discriminator(images).shape == (4,)
    block = next(m for m in generator.modules() if isinstance(m, ResidualBlock))
    x = torch.randn(2, block.expand.in_channels, 5, 5)
    assert torch.equal(block(x), x)  # fix-up: the residual branch starts at zero


def test_class_conditional_resnet_reads_the_class():
    cfg = resolve_config("modern-cgan", ["model.width=8"])
    knowledge = KnowledgeConfig(condition="class")
    generator = build_generator(cfg.model, (1, 28, 28), 10, knowledge)
    discriminator = build_discriminator(cfg.model, (1, 28, 28), 10, knowledge)
    z = torch.randn(1, cfg.model.z_dim).repeat(2, 1)
    images = generator(z, {"class": torch.tensor([0, 5])})
    assert not torch.allclose(images[0], images[1])
    judged = discriminator.judge(images, {"class": torch.tensor([0, 5])})
    assert judged.aux.shape == (2, 10)
