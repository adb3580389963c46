import torch

from knowgen.models.layers import SameConv2d, same_padding


def test_same_padding_matches_tensorflow():
    assert same_padding(28, 4, 2) == (1, 1)
    assert same_padding(7, 4, 2) == (1, 2)  # odd total: the extra pixel goes after
    assert same_padding(5, 3, 1) == (1, 1)


def test_same_conv_output_is_ceil_of_input_over_stride():
    conv = SameConv2d(1, 2, kernel_size=4, stride=2)
    for side in (28, 7, 64, 9):
        assert conv(torch.zeros(1, 1, side, side)).shape[-1] == -(-side // 2)
