import numpy as np
import pytest
import torch

from knowgen.data import DataConfig, load_dataset
from knowgen.data.datasets import convert_channels, find_fashion_mnist, resize_uint8
from knowgen.data.idx import write_idx
from tests.conftest import requires_fashion_mnist


def test_digits_is_uint8_and_split_disjointly():
    train = load_dataset(DataConfig(name="digits"))
    test = load_dataset(DataConfig(name="digits", split="test"))
    assert train.images.dtype == torch.uint8 and train.image_shape == (1, 8, 8)
    assert len(train) + len(test) == 1797 and train.images.max() == 255
    assert len(train.class_names) == 10


def test_fashion_mnist_from_an_explicit_folder(tmp_path):
    for split, n in (("train", 5), ("t10k", 3)):
        write_idx(tmp_path / f"{split}-images-idx3-ubyte.gz", np.zeros((n, 28, 28), np.uint8))
        write_idx(tmp_path / f"{split}-labels-idx1-ubyte", np.arange(n, dtype=np.uint8))
    data = load_dataset(DataConfig(path=str(tmp_path), split="test"))
    assert data.images.shape == (3, 1, 28, 28) and data.labels.tolist() == [0, 1, 2]


def test_fashion_mnist_found_through_knowgen_data(tmp_path, monkeypatch):
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    for split in ("train", "t10k"):
        write_idx(folder / f"{split}-images-idx3-ubyte", np.zeros((2, 28, 28), np.uint8))
        write_idx(folder / f"{split}-labels-idx1-ubyte", np.zeros(2, np.uint8))
    monkeypatch.setenv("KNOWGEN_DATA", str(tmp_path))
    assert find_fashion_mnist() == folder  # ahead of the Debian package's folder


def test_missing_explicit_folder_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="no Fashion-MNIST IDX files"):
        find_fashion_mnist(str(tmp_path))


def test_absent_dataset_says_how_to_install(monkeypatch, tmp_path):
    import knowgen.data.datasets as datasets

    monkeypatch.setattr(datasets, "FASHION_MNIST_DEBIAN_DIR", tmp_path / "none")
    with pytest.raises(FileNotFoundError, match="apt-get install -y dataset-fashion-mnist"):
        find_fashion_mnist()


def test_resize_and_channel_conversion():
    images = torch.full((3, 1, 8, 8), 200, dtype=torch.uint8)
    rgb = convert_channels(images, 3)
    assert rgb.shape == (3, 3, 8, 8) and torch.equal(convert_channels(rgb, 1), images)
    big = resize_uint8(rgb, 16)
    assert big.shape == (3, 3, 16, 16) and big.dtype == torch.uint8 and (big == 200).all()


@requires_fashion_mnist
def test_real_fashion_mnist_at_64px_rgb():
    data = load_dataset(DataConfig(split="test", image_size=32, channels=3))
    assert data.images.shape == (10_000, 3, 32, 32)
    assert data.class_names[7] == "sneaker"
