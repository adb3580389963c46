import logging

import numpy as np
import pytest
from PIL import Image

from knowgen.data import DataConfig, load_dataset
from knowgen.data.folder import load_folder


def make_folder(root, corrupt: bool = True):
    rng = np.random.default_rng(0)
    for cls, ext in (("cats", "png"), ("dogs", "jpg")):
        (root / cls).mkdir(parents=True)
        for i in range(3):
            pixels = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / cls / f"{i}.{ext}")
    if corrupt:
        (root / "dogs" / "broken.jpg").write_bytes(b"\xff\xd8 definitely not a jpeg")


def test_class_folders_resized_and_corrupt_file_skipped(tmp_path, caplog):
    make_folder(tmp_path / "pets")
    with caplog.at_level(logging.WARNING):
        data = load_folder(tmp_path / "pets", image_size=16, channels=3)
    assert data.images.shape == (6, 3, 16, 16)
    assert data.class_names == ["cats", "dogs"] and data.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert "broken.jpg" in caplog.text and "skipped 1 unreadable image(s) of 7" in caplog.text


def test_decoded_once_then_read_from_cache(tmp_path, monkeypatch):
    make_folder(tmp_path / "pets", corrupt=False)
    first = load_folder(tmp_path / "pets", image_size=8, channels=1)
    import knowgen.data.folder as folder

    monkeypatch.setattr(folder, "decode_image", lambda *a: pytest.fail("decoded again"))
    second = load_folder(tmp_path / "pets", image_size=8, channels=1)
    assert (second.images == first.images).all() and second.images.shape == (6, 1, 8, 8)


def test_flat_folder_is_unlabelled_through_the_registry(tmp_path):
    Image.new("L", (10, 10), 128).save(tmp_path / "a.png")
    data = load_dataset(DataConfig(name="folder", path=str(tmp_path), image_size=8))
    assert data.labels is None and data.images.shape == (1, 3, 8, 8)


def test_folder_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_folder(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="no images"):
        load_folder(tmp_path)
    (tmp_path / "bad.png").write_bytes(b"nope")
    with pytest.raises(ValueError, match="none of the 1 images"):
        load_folder(tmp_path)
