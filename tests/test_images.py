import numpy as np
import torch
from PIL import Image

from knowgen.images import arrange_by_class, label_rows, make_grid, save_grid, to_float, to_uint8


def test_uint8_float_round_trip():
    images = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    assert torch.equal(to_uint8(to_float(images)), images)


def test_grid_places_images_row_by_row(tmp_path):
    images = torch.stack([torch.full((1, 2, 2), v, dtype=torch.uint8) for v in (10, 20, 30)])
    grid = make_grid(images, nrow=2, pad=1)
    assert grid.shape == (7, 7, 1)
    assert grid[1, 1, 0] == 10 and grid[1, 4, 0] == 20 and grid[4, 1, 0] == 30
    path = save_grid(images, tmp_path / "g.png", nrow=2, scale=3)
    assert Image.open(path).size == (2 * 6 + 3 * 2, 2 * 6 + 3 * 2)


def test_arrange_by_class_keeps_order_and_fills_gaps_white():
    images = torch.arange(5, dtype=torch.uint8).view(5, 1, 1, 1)
    rows = arrange_by_class(images, torch.tensor([1, 0, 1, 1, 0]), num_classes=3, per_class=2)
    assert rows.flatten().tolist() == [1, 4, 0, 2, 255, 255]


def test_label_rows_widens_the_picture():
    picture = Image.fromarray(np.zeros((20, 30), dtype=np.uint8))
    labelled = label_rows(picture, ["a", "bb"], row_height=8, pad=2)
    assert labelled.size[1] == 20 and labelled.size[0] > 30
