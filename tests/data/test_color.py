"""The coloured Fashion-MNIST's tint, and the hue/structure measurements the fusion metrics use."""

import torch

from knowgen.data.color import (
    color_factors,
    hue_error_degrees,
    image_hue,
    mask_iou,
    structure_mask,
    tint,
)
from knowgen.knowledge.fusion import hue_bin


def garments(n=6, side=28):
    """Grey uint8 'garments': a bright rectangle of varying size on black."""
    images = torch.zeros(n, 1, side, side, dtype=torch.uint8)
    for i in range(n):
        images[i, 0, 4 : 10 + 2 * i, 6:22] = 120 + 20 * i
    return images


def test_tint_keeps_the_grey_image_and_sets_the_hue():
    grey = garments()
    hue = torch.tensor([0.0, 0.1, 0.33, 0.5, 0.7, 0.95])
    rgb = tint(grey, hue, torch.full((6,), 0.8))
    assert rgb.shape == (6, 3, 28, 28) and rgb.dtype == torch.uint8
    assert (rgb.max(1).values.int() - grey[:, 0].int()).abs().max() <= 1  # value = grey
    measured, pixels = image_hue(rgb.float() / 255)
    assert (pixels > 0).all()
    assert hue_error_degrees(measured, hue).max() < 2.0


def test_color_factors_are_fixed_per_split():
    a_hue, a_sat = color_factors(100, "train")
    b_hue, _ = color_factors(100, "train")
    c_hue, _ = color_factors(100, "test")
    assert torch.equal(a_hue, b_hue) and not torch.equal(a_hue, c_hue)
    assert a_sat.min() >= 0.6 and a_sat.max() <= 1.0


def test_hue_error_wraps_around_the_circle_and_bins_name_colours():
    assert torch.allclose(hue_error_degrees(torch.tensor([0.99]), torch.tensor([0.01])),
                          torch.tensor([7.2]), atol=1e-3)  # fmt: skip
    assert hue_error_degrees(torch.tensor([0.0]), torch.tensor([0.5])).item() == 180.0
    assert hue_bin(torch.tensor([0.0, 1 / 6, 0.5, 0.97])).tolist() == [0, 1, 3, 0]


def test_structure_masks_and_iou():
    grey = garments()
    masks = structure_mask(grey)
    assert masks.shape == (6, 1, 7, 7) and set(masks.unique().tolist()) <= {0.0, 1.0}
    assert masks[0].sum() < masks[-1].sum()  # the taller garment covers more cells
    rgb = tint(grey, torch.rand(6), torch.ones(6))
    assert torch.equal(structure_mask(rgb), masks)  # colour does not change the structure
    assert mask_iou(masks, masks).eq(1).all()
    empty = torch.zeros_like(masks)
    assert mask_iou(masks, empty).eq(0).all() and mask_iou(empty, empty).eq(1).all()
