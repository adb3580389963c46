import pytest
import torch

from knowgen.train.checkpoint import latest_checkpoint, list_checkpoints, load_checkpoint
from knowgen.train.loop import train


def test_only_the_newest_k_are_kept(tiny_config, tmp_path):
    train(tiny_config("train.checkpoint_every=5", "train.keep_checkpoints=2"), tmp_path)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-0000035.pt", "step-0000040.pt"]
    assert not list((tmp_path / "checkpoints").glob("*.tmp"))


def test_checkpoint_holds_only_plain_data(tiny_config, tmp_path):
    train(tiny_config("train.steps=3"), tmp_path)
    payload = torch.load(latest_checkpoint(tmp_path), weights_only=True)
    assert payload["step"] == 3 and payload["config"]["model"]["name"] == "dcgan"
    assert payload["image_shape"] == [1, 8, 8] and len(payload["class_names"]) == 10


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "step-0000001.pt"
    path.write_bytes(b"\x00garbage")
    with pytest.raises(ValueError, match="unreadable or corrupt"):
        load_checkpoint(path)


def test_pickled_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    torch.save({"format_version": 1, "x": Evil()}, path)
    with pytest.raises(ValueError, match="unreadable or corrupt"):
        load_checkpoint(path)
