import json

import pytest
import torch

from knowgen.checkpoint import list_checkpoints
from knowgen.config import list_presets
from knowgen.data import DataConfig, load_dataset
from knowgen.images import to_float
from knowgen.train.loop import train
from knowgen.train.metrics_log import LogWindow, NonFiniteLossError
from knowgen.train.state import init_state


def d_margin(discriminator, real, fake):
    discriminator.eval()
    with torch.no_grad():
        return (discriminator(real).mean() - discriminator(fake).mean()).item()


def test_short_run_separates_real_from_fake(tiny_config, tmp_path):
    cfg = tiny_config("train.steps=150")
    initial = init_state(cfg.model, cfg.train, (1, 8, 8), torch.device("cpu"))
    state = train(cfg, tmp_path / "run")
    real = to_float(load_dataset(DataConfig(name="digits", split="test")).images[:256])
    torch.manual_seed(1)
    z = torch.randn(256, 8)
    before = d_margin(initial.discriminator, real, initial.generator(z).detach())
    after = d_margin(state.discriminator, real, state.generator(z).detach())
    assert abs(before) < 0.05 and after > 0.2


def test_run_directory_layout(tiny_config, tmp_path):
    run = tmp_path / "run"
    train(tiny_config(), run)
    assert (run / "config.toml").is_file()
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "step-0000020.pt",
        "step-0000040.pt",
    ]
    assert sorted(p.name for p in (run / "samples").iterdir()) == [
        "step-0000020.png",
        "step-0000040.png",
    ]
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [10, 20, 30, 40]
    assert {"d_adv", "g_adv", "d_real", "d_fake", "images_per_s"} <= set(records[0])
    # D on training vs held-out reals (digits: its test split), every record
    assert {"d_real_train", "d_real_heldout", "d_overfit_gap"} <= set(records[0])


def test_a_run_shorter_than_log_every_still_writes_its_losses(tiny_config, tmp_path):
    train(tiny_config("train.steps=7", "train.log_every=50"), tmp_path / "short")
    lines = (tmp_path / "short" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [7]
    assert json.loads(lines[0])["images_per_s"] > 0


def test_resume_continues_same_trajectory(tiny_config, tmp_path):
    straight = train(tiny_config(), tmp_path / "straight")
    train(tiny_config("train.steps=20"), tmp_path / "halves")
    resumed = train(tiny_config(), tmp_path / "halves", resume=True)
    assert resumed.step == straight.step == 40
    for a, b in (
        (straight.generator, resumed.generator),
        (straight.discriminator, resumed.discriminator),
        (straight.ema.model, resumed.ema.model),
    ):
        for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
            assert torch.equal(x, y), name


def test_epochs_and_minutes_stop_the_run(tiny_config, tmp_path):
    state = train(tiny_config("train.steps=none", "train.epochs=0.5"), tmp_path / "a")
    assert state.step == 45  # 1437 // 16 = 89 batches per epoch; ceil(44.5)
    state = train(tiny_config("train.steps=none", "train.minutes=0.0001"), tmp_path / "b")
    assert 1 <= state.step < 40


def test_non_empty_run_dir_is_refused_without_resume(tiny_config, tmp_path):
    train(tiny_config("train.steps=2"), tmp_path / "run")
    with pytest.raises(FileExistsError, match="--resume"):
        train(tiny_config(), tmp_path / "run")
    assert train(tiny_config("train.steps=2"), tmp_path / "run", overwrite=True).step == 2


def test_nan_loss_stops_naming_the_term(tiny_config, tmp_path):
    with pytest.raises(
        NonFiniteLossError, match=r"loss term '[dg]_adv' became (nan|inf) at step [0-9]+"
    ):
        train(tiny_config("train.lr_d=1e30", "train.lr_g=1e30"), tmp_path / "run")


def test_log_window_names_the_first_non_finite_step_and_term():
    """The window reads its NaN watch back only when asked (the log record, the checkpoint),
    yet names the exact step and term where the loss first went bad."""
    window = LogWindow(batch_size=4)
    finite = {"d_adv": torch.tensor(0.5), "g_adv": torch.tensor(0.7)}
    window.add(finite, step=1)
    window.add({"d_adv": torch.tensor(0.4)}, step=2)  # a D-only step: fewer terms
    window.check_finite()  # all finite so far
    window.add({"d_adv": torch.tensor(0.3), "g_adv": torch.tensor(float("inf"))}, step=3)
    window.add({"d_adv": torch.tensor(float("nan")), "g_adv": torch.tensor(1.0)}, step=4)
    window.add(finite, step=5)  # finite again: the first failure is still reported
    with pytest.raises(NonFiniteLossError, match=r"loss term 'g_adv' became inf at step 3"):
        window.flush()
    with pytest.raises(NonFiniteLossError, match="at step 3"):  # not forgotten by the flush
        window.check_finite()


def test_nan_loss_writes_no_checkpoint_after_it(tiny_config, tmp_path):
    cfg = tiny_config("train.lr_d=1e30", "train.lr_g=1e30", "train.log_every=1000",
                      "train.checkpoint_every=1")  # fmt: skip
    with pytest.raises(NonFiniteLossError, match="at step") as caught:
        train(cfg, tmp_path / "run")
    bad_step = int(str(caught.value).split("at step ")[1].split(";")[0])
    saved = [int(path.stem.split("-")[1]) for path in list_checkpoints(tmp_path / "run")]
    assert all(step < bad_step for step in saved)


@pytest.mark.parametrize("kind", ["hinge", "wgan-gp"])
def test_other_losses_train(tiny_config, tmp_path, kind):
    cfg = tiny_config(f'loss.kind="{kind}"', "train.steps=6", "train.n_critic=2")
    state = train(cfg, tmp_path / kind)
    assert state.step == 6


@pytest.mark.parametrize("preset", sorted(list_presets()))
def test_every_shipped_preset_trains_a_few_steps(preset, tmp_path, monkeypatch, request):
    """Each preset's settings work together (digits resized to 28 px, so 28-px presets fit)."""
    from knowgen.config import resolve_config
    from knowgen.data.datasets import FASHION_MNIST_DEBIAN_DIR

    data = ['data.name="digits"', "data.image_size=28"]
    if preset == "fusion":  # needs hues: the coloured Fashion-MNIST, held-out pairs and all
        if not FASHION_MNIST_DEBIAN_DIR.is_dir():
            pytest.skip(
                "the fusion preset needs Fashion-MNIST (apt-get install dataset-fashion-mnist)"
            )
        data = []
    if preset.startswith("emoji"):  # its own data: the procedural emoji tarballs
        request.getfixturevalue("fake_emoji")
        data = []
    if preset == "fusion-shapes":  # its own 32-px procedural set, drawn small here
        monkeypatch.setattr("knowgen.data.shapes.NUM_IMAGES", {"train": 256, "test": 64})
        data = []
    settings = [
        *data,
        "train.steps=3",
        "train.batch_size=8",
        "train.tensorboard=false",
        "train.num_samples=10",
    ]
    state = train(resolve_config(preset, settings), tmp_path / preset)
    assert state.step == 3
    assert (tmp_path / preset / "samples" / "step-0000003.png").is_file()
