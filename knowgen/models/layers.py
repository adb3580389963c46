"""Building blocks shared by the model families."""

from __future__ import annotations

import math
from typing import NamedTuple, Protocol

import torch
import torch.nn.functional as F
from torch import nn


class Generator(Protocol):
    """What every generator declares (capabilities are attributes, never sniffed): its input
    size, how many classes it is asked for (0: none) and its knowledge encoder (None: it reads
    no knowledge)."""

    z_dim: int
    num_classes: int
    encoder: nn.Module | None

    def __call__(self, z: torch.Tensor, cond=None) -> torch.Tensor: ...


class Discriminator(Protocol):
    """What every discriminator declares: its classes, knowledge encoder and InfoGAN Q head
    (None unless the run has codes), and one pass that judges images."""

    num_classes: int
    encoder: nn.Module | None
    q_head: nn.Module | None

    def judge(self, x: torch.Tensor, cond=None) -> Judgement: ...


class Judgement(NamedTuple):
    """What every discriminator's `judge(x, cond)` returns from one pass: the real/fake logits
    (B,), the trunk features the logits are read from (B, F) (InfoGAN's Q head and feature
    probes reuse them), and auxiliary class logits (B, K) where D has an ACGAN head."""

    logits: torch.Tensor
    features: torch.Tensor
    aux: torch.Tensor | None = None


class ProjectionHeads(nn.Module):
    """The heads every trunk-based conditional D (sagan, resnet) puts on its features: a linear
    real/fake logit, the projection term <embed(cond), h> (Miyato & Koyama 2018) when it reads
    knowledge, an optional ACGAN class head, and InfoGAN's Q head slot. A subclass defines
    `features(x)` and calls `add_heads` once its trunk is built."""

    def add_heads(
        self, feature_dim: int, encoder_for, num_classes: int, aux_classifier: bool
    ) -> None:
        self.head = nn.Linear(feature_dim, 1)
        self.encoder = encoder_for(feature_dim)
        self.q_head = None  # InfoGAN's Q head, set by the training state when a run has codes
        self.aux_head = nn.Linear(feature_dim, num_classes) if aux_classifier else None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def judge(self, x: torch.Tensor, cond=None) -> Judgement:
        """Logits, trunk features and (with an auxiliary head) class logits from one pass."""
        h = self.features(x)
        aux = self.aux_head(h) if self.aux_head is not None else None
        return Judgement(self.score(h, cond), h, aux)

    def score(self, h: torch.Tensor, cond=None) -> torch.Tensor:
        """Logits of trunk features `h` under conditions `cond`: linear(h) + <embed(cond), h>.
        Scoring the same real features under other conditions is the matching-aware negative."""
        logits = self.head(h).flatten()
        if self.encoder is not None:
            logits = logits + (self.encoder(cond).pooled * h).sum(1)
        return logits

    def forward(self, x: torch.Tensor, cond=None) -> torch.Tensor:
        """Images (B, C, H, W) (+ conditions) -> logits (B,)."""
        return self.judge(x, cond).logits


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """Keras/TensorFlow 'same' padding (before, after) for one spatial dimension.

    Output size is ceil(size / stride); odd totals put the extra pixel after, as TensorFlow does.
    """
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class _GradientInLayout(torch.autograd.Function):
    """Identity forward; the backward hands the gradient on in the input's memory layout."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.channels_last = x.is_contiguous(memory_format=torch.channels_last)
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        if ctx.channels_last:  # differentiable, so R1's double backward still goes through
            return grad.contiguous(memory_format=torch.channels_last)
        return grad


def flatten_features(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C*H*W) in (C, H, W) order, whatever x's memory layout.

    Why not plain `x.flatten(1)`: for a channels-last x its backward returns an NCHW gradient,
    and an op whose input is channels-last but whose incoming gradient is not takes oneDNN's
    slow path. The last average pool of the ResNet D did: 1.7-2.6 ms for its backward against
    0.26 ms with matching layouts (64x64x14x14, bf16), about a tenth of a `modern` step.
    Converting the small gradient back to channels-last costs a copy of B*C*H*W values."""
    return _GradientInLayout.apply(x).flatten(1)


class SameConv2d(nn.Conv2d):
    """`Conv2d` with TensorFlow 'same' padding for any stride (PyTorch's `padding='same'` is
    limited to stride 1). Lets the Keras listing run unchanged at 28, 64 or odd sizes."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        top, bottom = same_padding(x.shape[-2], kh, sh)
        left, right = same_padding(x.shape[-1], kw, sw)
        return super().forward(F.pad(x, (left, right, top, bottom)))


def init_dcgan_weights(module: nn.Module) -> None:
    """DCGAN initialisation (Radford et al. 2016): conv weights N(0, 0.02), BN scale N(1, 0.02)."""
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d | nn.BatchNorm1d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def init_keras_weights(module: nn.Module) -> None:
    """Keras defaults: Glorot-uniform kernels and zero biases, so the `seed` preset trains as the
    listing would have."""
    if isinstance(module, nn.Conv2d | nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class SelfAttention2d(nn.Module):
    """Multi-head self-attention over the positions of a feature map (SAGAN, Zhang et al. 2019).

    Every position attends to every other: `softmax(Q K^T / sqrt(d_k)) V` computed by
    `F.scaled_dot_product_attention`. The result joins the input through a learnable gate that
    starts at 0, so a freshly added block is the identity and the network learns how much global
    context to mix in. As in SAGAN, queries and keys are `key_ratio` times narrower than the
    values (d_k = C / 8 by default), which cuts the projection cost; projections are `nn.Linear`
    over (B, H*W, C) tokens (SAGAN's 1x1 convolutions, as a plain matrix product: faster on CPU).
    """

    def __init__(self, channels: int, heads: int = 1, key_ratio: int = 8) -> None:
        super().__init__()
        if channels % heads:
            raise ValueError(f"{channels} channels cannot be split into {heads} heads")
        self.heads = heads
        self.key_dim = max(channels // key_ratio // heads, 1)  # d_k per head
        self.value_dim = channels // heads
        self.qkv = nn.Linear(channels, heads * (2 * self.key_dim + self.value_dim))
        self.out = nn.Linear(channels, channels)
        self.gate = nn.Parameter(torch.zeros(()))

    def project(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Q, K (B, heads, HW, d_k) and V (B, heads, HW, C / heads) of a map (B, C, H, W)."""
        b = len(x)
        tokens = x.flatten(2).transpose(1, 2)  # (B, HW, C)
        sizes = [self.heads * self.key_dim] * 2 + [self.heads * self.value_dim]
        q, k, v = self.qkv(tokens).split(sizes, dim=-1)
        return tuple(
            t.reshape(b, -1, self.heads, t.shape[-1] // self.heads).transpose(1, 2)
            for t in (q, k, v)
        )

    def attend(self, x: torch.Tensor) -> torch.Tensor:
        """The attention output alone (B, C, H, W), before the gate."""
        b, c, h, w = x.shape
        mixed = F.scaled_dot_product_attention(*self.project(x))  # (B, heads, HW, C / heads)
        out = self.out(mixed.transpose(1, 2).reshape(b, h * w, c))
        return out.transpose(1, 2).reshape(b, c, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.gate * self.attend(x)


class CrossAttention2d(nn.Module):
    """Image positions (queries) attend to knowledge tokens (keys/values): how a generator reads
    a condition that has several parts (words, attributes, mask cells). Gated like
    `SelfAttention2d`; with no tokens it is the identity."""

    def __init__(
        self, channels: int, context_dim: int, heads: int = 1, head_dim: int | None = None
    ) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = head_dim or max(channels // heads, 1)
        inner = self.heads * self.head_dim
        self.norm = nn.GroupNorm(1, channels)
        self.q = nn.Conv2d(channels, inner, 1)
        self.kv = nn.Linear(context_dim, 2 * inner)
        self.out = nn.Conv2d(inner, channels, 1)
        self.gate = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W), tokens (B, T, context_dim) -> (B, C, H, W)."""
        if tokens.shape[1] == 0:
            return x
        b, _, h, w = x.shape
        q = self.q(self.norm(x)).flatten(2).view(b, self.heads, self.head_dim, h * w)
        k, v = self.kv(tokens).chunk(2, dim=-1)  # (B, T, heads * d)
        k, v = (t.view(b, -1, self.heads, self.head_dim).transpose(1, 2) for t in (k, v))
        mixed = F.scaled_dot_product_attention(q.transpose(2, 3), k, v)  # (B, heads, HW, d)
        return x + self.gate * self.out(mixed.transpose(2, 3).reshape(b, -1, h, w))


class TransformerBlock2d(nn.Module):
    """A pre-norm Transformer block on a feature map: x + attn(norm(x)), then x + mlp(norm(x)).

    Tokens are the H*W positions, so it fits any resolution; both branches are gated from 0 so
    inserting the block leaves a trained or freshly initialised network unchanged at first.
    GroupNorm with one group is LayerNorm over (C, H, W) per sample, which keeps the discriminator
    free of batch statistics.
    """

    def __init__(self, channels: int, heads: int = 1, mlp_ratio: float = 2.0) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(1, channels)
        self.attention = SelfAttention2d(channels, heads, key_ratio=1)
        self.norm2 = nn.GroupNorm(1, channels)
        hidden = int(channels * mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, 1), nn.GELU(), nn.Conv2d(hidden, channels, 1)
        )
        self.mlp_gate = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention.gate * self.attention.attend(self.norm1(x))
        return x + self.mlp_gate * self.mlp(self.norm2(x))


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm whose scale and shift come from a condition vector (FiLM after normalising;
    de Vries et al. 2017, Dumoulin et al. 2017): gamma = 1 + W_g c, beta = W_b c.

    With `cond_dim == 0` it is an ordinary affine BatchNorm, so unconditional and conditional
    generators are the same code.
    """

    def __init__(self, channels: int, cond_dim: int = 0) -> None:
        super().__init__()
        self.cond_dim = cond_dim
        self.bn = nn.BatchNorm2d(channels, affine=cond_dim == 0)
        if cond_dim:
            self.film = nn.Linear(cond_dim, 2 * channels)
            nn.init.zeros_(self.film.weight)
            nn.init.zeros_(self.film.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        x = self.bn(x)
        if not self.cond_dim:
            return x
        if cond is None:
            raise ValueError("this layer is conditional: pass the pooled condition vector")
        gamma, beta = self.film(cond).chunk(2, dim=1)
        return x * (1 + gamma[:, :, None, None]) + beta[:, :, None, None]


def attention_block(kind: str, channels: int, heads: int) -> nn.Module:
    """`self`: SAGAN's gated attention; `transformer`: attention + MLP with norms."""
    if kind == "self":
        return SelfAttention2d(channels, heads)
    if kind == "transformer":
        return TransformerBlock2d(channels, heads)
    raise ValueError(f"unknown attention kind {kind!r}; choose from ['self', 'transformer']")
