"""The Inception-v3 FID path, with weights files the tests write (never a download)."""

import pytest
import torch

from knowgen.metrics.inception import FIDInceptionV3, inception_fid, load_inception


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("inception") / "pt_inception-test.pth"
    torch.save(FIDInceptionV3().state_dict(), path)
    return path


def test_weights_load_and_give_2048_features(weights_file):
    net = load_inception(weights_file)
    features = net(torch.randint(0, 256, (2, 1, 28, 28), dtype=torch.uint8))
    assert features.shape == (2, 2048) and torch.isfinite(features).all()


def test_same_images_have_zero_inception_fid(weights_file):
    images = torch.randint(0, 256, (6, 3, 16, 16), dtype=torch.uint8)
    assert abs(inception_fid(images, images, weights_file)) < 1e-6


def test_wrong_or_unsafe_files_are_refused(tmp_path):
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="does not hold FID Inception-v3 weights"):
        load_inception(tmp_path / "other.pth")

    class Payload:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"x": Payload()}, tmp_path / "evil.pth")
    with pytest.raises(ValueError, match="not a plain weights file"):
        load_inception(tmp_path / "evil.pth")
    with pytest.raises(FileNotFoundError):
        load_inception(tmp_path / "missing.pth")


def test_tensorflow1_resize_samples_without_a_half_pixel_offset():
    from knowgen.metrics.inception import resize_like_tensorflow1

    x = torch.tensor([[[[0.0, 10.0, 20.0]]]]).expand(1, 1, 3, 3)
    doubled = resize_like_tensorflow1(x, 6)[0, 0, 0]
    # output i samples input i / 2: 0, 5, 10, 15, 20, then the last column clamps to 20
    assert doubled.tolist() == [0.0, 5.0, 10.0, 15.0, 20.0, 20.0]
    assert torch.equal(resize_like_tensorflow1(x, 3), x)


def test_conventions_differ_only_in_how_images_reach_the_network(weights_file):
    images = torch.randint(0, 256, (2, 1, 28, 28), dtype=torch.uint8)
    tf1, torch_style = (load_inception(weights_file, c) for c in ("tf1", "pytorch-fid"))
    a, b = tf1(images), torch_style(images)
    assert a.shape == b.shape == (2, 2048) and not torch.equal(a, b)
    with pytest.raises(ValueError, match="unknown Inception convention"):
        load_inception(weights_file, "pil")
