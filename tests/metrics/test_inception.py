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
