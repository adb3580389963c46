"""DiffAugment: each transform does what it says, gradients pass, and D sees it on both sides."""

import pytest
import torch

from knowgen.augment import (
    AdaptiveStrength,
    color,
    cutout,
    diff_augment,
    parse_policy,
    translation,
)


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

    def recording(x, policy, p=1.0):
        seen.append((x.shape, policy, x.requires_grad))
        return original(x, policy, p)

    monkeypatch.setattr(steps, "diff_augment", recording)
    cfg = tiny_config('train.diffaugment="translation,cutout"')
    dataset = load_dataset(cfg.data)
    state = init_state(cfg.model, cfg.train, dataset.image_shape, torch.device("cpu"))
    train_step(state, to_float(dataset.images[:16]), cfg)
    policies = {policy for _, policy, _ in seen}
    assert policies == {("translation", "cutout")}
    assert len(seen) == 3  # D: real, fake; G: fake (with its graph, so G learns through it)
    assert seen[2][2] is True


def test_strength_one_draws_what_plain_diffaugment_draws_and_zero_is_the_identity():
    x = torch.rand(32, 1, 16, 16)
    torch.manual_seed(3)
    plain = diff_augment(x, ("translation", "cutout"))
    torch.manual_seed(3)
    assert torch.equal(diff_augment(x, ("translation", "cutout"), 1.0), plain)
    assert torch.equal(diff_augment(x, ("translation", "cutout"), 0.0), x)


def test_strength_p_augments_about_that_share_of_the_images():
    torch.manual_seed(0)
    x = torch.ones(4000, 1, 8, 8)
    changed = (diff_augment(x, ("cutout",), 0.25) != x).flatten(1).any(1).float().mean()
    assert 0.22 < float(changed) < 0.28


def test_ada_raises_p_while_d_is_sure_of_its_reals_and_lowers_it_when_not():
    ada = AdaptiveStrength(target=0.6, images_to_full=1000)
    for _ in range(AdaptiveStrength.INTERVAL):  # r = 1 > 0.6: one adjustment of 4 x 50 images
        ada.update(torch.tensor(1.0), images=50)
    assert ada.p == pytest.approx(0.2)
    for _ in range(AdaptiveStrength.INTERVAL - 1):  # no adjustment before the interval ends
        ada.update(torch.tensor(-0.5), images=50)
    assert ada.p == pytest.approx(0.2)
    ada.update(torch.tensor(-0.5), images=50)
    assert ada.p == pytest.approx(0.0)
    for _ in range(4 * AdaptiveStrength.INTERVAL):  # never below 0
        ada.update(torch.tensor(0.0), images=50)
    assert ada.p == 0.0


def test_ada_state_round_trips_mid_interval():
    ada = AdaptiveStrength(target=0.6, images_to_full=1000)
    for _ in range(6):
        ada.update(torch.tensor(0.9), images=50)
    copy = AdaptiveStrength(target=0.6, images_to_full=1000)
    copy.load_state_dict(ada.state_dict())
    for _ in range(2):
        assert copy.update(torch.tensor(0.9), 50) == ada.update(torch.tensor(0.9), 50)
    assert copy.p == pytest.approx(0.4)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (["train.ada_target=0.6"], "set train.diffaugment too"),
        (['train.diffaugment="translation"', "train.ada_target=1.2"], "ada_target must lie"),
        (['train.diffaugment="translation"', "train.ada_images=0"], "ada_images must be > 0"),
    ],
)
def test_bad_ada_settings_are_refused_at_config_time(settings, message):
    from knowgen.config import resolve_config

    with pytest.raises(ValueError, match=message):
        resolve_config("dcgan", settings)


def test_an_ada_run_logs_its_strength_and_resumes_on_the_same_trajectory(tiny_config, tmp_path):
    import json

    from knowgen.train.loop import train

    ada = (
        'train.diffaugment="translation,cutout"',
        "train.ada_target=0.6",
        "train.ada_images=2000",
    )
    straight = train(tiny_config(*ada), tmp_path / "straight")
    train(tiny_config(*ada, "train.steps=22"), tmp_path / "halves")  # stops mid-interval
    resumed = train(tiny_config(*ada), tmp_path / "halves", resume=True)
    assert resumed.ada.p == straight.ada.p > 0  # a tiny D on 8x8 digits is sure of its reals
    for x, y in zip(straight.generator.state_dict().values(),
                    resumed.generator.state_dict().values(), strict=True):  # fmt: skip
        assert torch.equal(x, y)
    records = [json.loads(line) for line in (tmp_path / "straight" / "metrics.jsonl").open()]
    assert all(0.0 <= r["augment_p"] <= 1.0 and -1 <= r["d_real_sign"] <= 1 for r in records)
    assert records[-1]["augment_p"] > records[0]["augment_p"]
