import gzip

import numpy as np
import pytest

from knowgen.data.datasets import FASHION_MNIST_DEBIAN_DIR
from knowgen.data.idx import read_idx, write_idx
from tests.conftest import requires_fashion_mnist


@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_idx_round_trip_plain_and_gzip(tmp_path, name):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / name, array)
    assert np.array_equal(read_idx(tmp_path / name), array)


def test_idx_header_is_the_mnist_layout(tmp_path):
    write_idx(tmp_path / "labels", np.array([7, 2, 1], dtype=np.uint8))
    raw = (tmp_path / "labels").read_bytes()
    assert raw[:4] == bytes([0, 0, 0x08, 1]) and raw[4:8] == (3).to_bytes(4, "big")
    assert list(raw[8:]) == [7, 2, 1]


def test_gzip_detected_by_content_not_name(tmp_path):
    array = np.ones((2, 2), dtype=np.uint8)
    write_idx(tmp_path / "a", array)
    (tmp_path / "b").write_bytes(gzip.compress((tmp_path / "a").read_bytes()))
    assert np.array_equal(read_idx(tmp_path / "b"), array)


def test_truncated_and_foreign_files_are_clear_errors(tmp_path):
    write_idx(tmp_path / "x", np.zeros((4, 4), dtype=np.uint8))
    (tmp_path / "x").write_bytes((tmp_path / "x").read_bytes()[:-3])
    with pytest.raises(ValueError, match="IDX data holds 13 bytes"):
        read_idx(tmp_path / "x")
    (tmp_path / "y").write_bytes(b"PNG not idx")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "y")


@requires_fashion_mnist
def test_real_fashion_mnist_files():
    images = read_idx(FASHION_MNIST_DEBIAN_DIR / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(FASHION_MNIST_DEBIAN_DIR / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (10_000, 28, 28) and images.dtype == np.uint8
    assert sorted(np.bincount(labels)) == [1000] * 10
