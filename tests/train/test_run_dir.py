"""Run directories: what --overwrite may clear, one trainer at a time, resume checks before it
writes, and checkpoints that are never lost to NaN weights, damage or stray names."""

import pytest
import torch

from knowgen.checkpoint import latest_checkpoint, newest_intact_checkpoint
from knowgen.files import run_lock
from knowgen.train.checkpoint import NonFiniteWeightsError, save_checkpoint
from knowgen.train.loop import train


def test_overwrite_refuses_the_current_home_and_root_directories(tiny_config, tmp_path,
                                                                 monkeypatch):  # fmt: skip
    cfg = tiny_config("train.steps=2")
    (tmp_path / "mine.txt").write_text("a user's file")
    monkeypatch.chdir(tmp_path)
    for where in ("", ".", str(tmp_path.parent)):
        with pytest.raises(ValueError, match="never the current, home or root"):
            train(cfg, where, overwrite=True)
        with pytest.raises(ValueError, match="never the current, home or root"):
            train(cfg, where)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="never the current, home or root"):
        train(cfg, tmp_path / "home", overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "mine.txt"]  # not even a lock
    assert (tmp_path / "mine.txt").read_text() == "a user's file"
    assert sorted(p.name for p in (tmp_path / "home").iterdir()) == ["notes.txt"]


def test_overwrite_refuses_a_folder_of_other_files_and_clears_a_run(tiny_config, tmp_path):
    cfg = tiny_config("train.steps=2")
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "cat.jpg").write_bytes(b"not a run")
    with pytest.raises(ValueError, match="not a knowgen run directory"):
        train(cfg, photos, overwrite=True)
    assert (photos / "cat.jpg").read_bytes() == b"not a run"
    train(cfg, tmp_path / "run")
    assert train(cfg, tmp_path / "run", overwrite=True).step == 2


def test_a_second_trainer_on_a_run_directory_is_refused(tiny_config, tmp_path):
    refused = pytest.raises(FileExistsError, match="is in use by process")
    with run_lock(tmp_path / "run"), refused:
        train(tiny_config("train.steps=2"), tmp_path / "run")


def test_retrying_after_a_failed_start_works(tiny_config, tmp_path):
    with pytest.raises(ValueError, match="batch size"):
        train(tiny_config("train.batch_size=100000"), tmp_path / "run")
    assert train(tiny_config("train.steps=2"), tmp_path / "run").step == 2


def test_resume_refuses_a_changed_model_before_writing_anything(tiny_config, tmp_path):
    run = tmp_path / "run"
    train(tiny_config("train.steps=20"), run)
    before = (run / "config.toml").read_text()
    with pytest.raises(ValueError, match=r"model\.z_dim: 8 -> 9"):
        train(tiny_config("model.z_dim=9"), run, resume=True)
    assert (run / "config.toml").read_text() == before
    state = train(tiny_config("train.steps=30", "train.lr_g=0.001"), run, resume=True)
    assert state.step == 30 and state.opt_g.param_groups[0]["lr"] == 0.001  # applied


def test_nan_weights_are_never_checkpointed(tiny_config, tmp_path):
    state = train(tiny_config("train.steps=20"), tmp_path / "run")
    good = latest_checkpoint(tmp_path / "run")
    with torch.no_grad():
        next(state.generator.parameters()).fill_(float("nan"))
    state.step += 1
    with pytest.raises(NonFiniteWeightsError, match="generator's weights became NaN/inf"):
        save_checkpoint(state, {}, tmp_path / "run", keep=1)
    assert latest_checkpoint(tmp_path / "run") == good and good.is_file()


def test_resume_skips_a_damaged_newest_checkpoint_and_stray_names(tiny_config, tmp_path, caplog):
    run = tmp_path / "run"
    train(tiny_config(), run)  # checkpoints at 20 and 40
    (run / "checkpoints" / "step-0000040.pt").write_bytes(b"cut short")
    (run / "checkpoints" / "backup_step-9999999.pt").write_bytes(b"not ours")
    path, payload = newest_intact_checkpoint(run)
    assert path.name == "step-0000020.pt" and payload["step"] == 20
    assert "skipping damaged checkpoint" in caplog.text
    assert train(tiny_config(), run, resume=True).step == 40
