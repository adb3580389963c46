"""Attention layers against a naive softmax(QK^T/sqrt(d_k))V, the zero-gate identity, and FiLM."""

import math

import pytest
import torch

from knowgen.models.layers import (
    ConditionalBatchNorm2d,
    CrossAttention2d,
    SelfAttention2d,
    TransformerBlock2d,
)

# tolerances on float arithmetic: also run under other kernel sets (make test)
pytestmark = pytest.mark.machine_sensitive


def naive_attention(q, k, v):
    """softmax(Q K^T / sqrt(d_k)) V written out, per head: (B, heads, L, d)."""
    weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ v


@pytest.mark.parametrize("heads", [1, 2])
def test_self_attention_matches_the_naive_formula(heads):
    torch.manual_seed(0)
    block = SelfAttention2d(16, heads=heads)
    with torch.no_grad():
        block.gate.fill_(0.7)
    x = torch.randn(3, 16, 5, 4)
    tokens = x.flatten(2).transpose(1, 2)  # (B, HW, C)
    weight, bias = block.qkv.weight, block.qkv.bias
    dk, dv = block.key_dim * heads, 16
    q, k, v = (tokens @ weight.T + bias).split([dk, dk, dv], dim=-1)
    split = lambda t: t.reshape(3, 20, heads, -1).transpose(1, 2)  # noqa: E731
    mixed = naive_attention(split(q), split(k), split(v)).transpose(1, 2).reshape(3, 20, 16)
    expected = x + 0.7 * (block.out(mixed)).transpose(1, 2).reshape(3, 16, 5, 4)
    assert torch.allclose(block(x), expected, atol=1e-5)


def test_sagan_keys_are_narrower_than_values():
    block = SelfAttention2d(64)
    assert block.key_dim == 8 and block.value_dim == 64


@pytest.mark.parametrize("block", [SelfAttention2d(8), TransformerBlock2d(8, heads=2)])
def test_a_fresh_block_is_the_identity(block):
    x = torch.randn(2, 8, 6, 6)
    assert torch.equal(block(x), x)


def test_transformer_block_mixes_positions_once_its_gates_open():
    torch.manual_seed(0)
    block = TransformerBlock2d(8)
    with torch.no_grad():
        block.attention.gate.fill_(1.0)
        block.mlp_gate.fill_(1.0)
    x = torch.randn(1, 8, 4, 4)
    changed = x.clone()
    changed[..., 0, 0] += 5.0  # one position changes ...
    # ... and through attention every other position's output changes too
    assert not torch.allclose(block(x)[..., 3, 3], block(changed)[..., 3, 3])


def test_cross_attention_reads_the_tokens():
    torch.manual_seed(0)
    block = CrossAttention2d(8, context_dim=6, heads=2)
    with torch.no_grad():
        block.gate.fill_(1.0)
    x, tokens = torch.randn(2, 8, 3, 3), torch.randn(2, 5, 6)
    b = 2
    q = block.q(block.norm(x)).flatten(2).view(b, 2, 4, 9).transpose(2, 3)
    k, v = block.kv(tokens).chunk(2, dim=-1)
    k, v = (t.view(b, 5, 2, 4).transpose(1, 2) for t in (k, v))
    mixed = naive_attention(q, k, v)  # (B, heads, HW, d)
    expected = x + block.out(mixed.transpose(2, 3).reshape(b, 8, 3, 3))
    assert torch.allclose(block(x, tokens), expected, atol=1e-5)
    assert torch.equal(block(x, tokens[:, :0]), x)  # no knowledge: identity


def test_conditional_batchnorm_scales_and_shifts_by_the_condition():
    torch.manual_seed(0)
    plain = ConditionalBatchNorm2d(4)
    assert plain.bn.affine  # unconditional = ordinary BatchNorm
    layer = ConditionalBatchNorm2d(4, cond_dim=3)
    x, cond = torch.randn(8, 4, 2, 2), torch.randn(8, 3)
    assert torch.allclose(layer(x, cond), layer.bn(x))  # FiLM starts as the identity
    with torch.no_grad():
        layer.film.weight.normal_()
    gamma, beta = layer.film(cond).chunk(2, dim=1)
    expected = layer.bn(x) * (1 + gamma[:, :, None, None]) + beta[:, :, None, None]
    assert torch.allclose(layer(x, cond), expected, atol=1e-6)
    with pytest.raises(ValueError, match="conditional"):
        layer(x)
