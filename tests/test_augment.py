"""DiffAugment: each transform does what it says, gradients pass, and D sees it on both sides."""

import pytest
import torch

from knowgen.augment import color, cutout, diff_augment, parse_policy, translation


def test_translation_shifts_whole_images_within_the_ratio():
    torch.manual_seed(0)
    x = torch.rand(16, 1, 16, 16) + 0.5  # strictly positive, so the zero fill is visible
    moved = translation(x)
    for original, shifted in zip(x, moved, strict=True):
        matches = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if torch.equal(shifted, _shift(original, dy, dx))
        ]
        assert matches, "every output must be its input shifted by at most 2 px (16 * 1/8)"


def _shift(image, dy, dx):
    """Output pixel (r, c) = input (r + dy, c + dx), zero outside."""
    out = torch.zeros_like(image)
    h, w = image.shape[-2:]
    for r in range(h):
        for c in range(w):
            if 0 <= r + dy < h and 0 <= c + dx < w:
                out[:, r, c] = image[:, r + dy, c + dx]
    return out


def test_cutout_zeroes_one_square_at_most_half_the_side():
    torch.manual_seed(0)
    x = torch.ones(32, 1, 28, 28)
    holes = (cutout(x) == 0).squeeze(1)
    for hole in holes:
        rows, cols = hole.any(1).sum(), hole.any(0).sum()
        assert 1 <= rows <= 14 and 1 <= cols <= 14
        assert hole.sum() == rows * cols  # a rectangle (a square clipped at the border)


def test_color_changes_values_but_not_shape():
    torch.manual_seed(0)
    x = torch.rand(8, 3, 8, 8) * 2 - 1
    out = color(x)
    assert out.shape == x.shape and not torch.allclose(out, x)


def test_augmentations_are_differentiable():
    x = torch.rand(4, 3, 8, 8, requires_grad=True)
    diff_augment(x, ("color", "translation", "cutout")).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_policy_parsing():
    assert parse_policy("color, translation") == ("color", "translation")
    assert parse_policy("") == () and parse_policy("none") == ()
    with pytest.raises(ValueError, match="choose from"):
        parse_policy("flip")


def test_d_and_g_steps_augment_real_and_fake_alike(tiny_config, monkeypatch):
    """Every image D sees goes through the same policy: real and fake in D's step, fake in G's."""
    from knowgen.data import load_dataset
    from knowgen.images import to_float
    from knowgen.train import steps
    from knowgen.train.loop import train_step
    from knowgen.train.state import init_state

    seen = []
    original = steps.diff_augment

    def recording(x, policy):
        seen.append((x.shape, policy, x.requires_grad))
        return original(x, policy)

    monkeypatch.setattr(steps, "diff_augment", recording)
    cfg = tiny_config('train.diffaugment="translation,cutout"')
    dataset = load_dataset(cfg.data)
    state = init_state(cfg.model, cfg.train, dataset.image_shape, torch.device("cpu"))
    train_step(state, to_float(dataset.images[:16]), cfg)
    policies = {policy for _, policy, _ in seen}
    assert policies == {("translation", "cutout")}
    assert len(seen) == 3  # D: real, fake; G: fake (with its graph, so G learns through it)
    assert seen[2][2] is True
