"""Shared fixtures: an isolated cache, tiny configs and datasets, the real data when installed."""

from __future__ import annotations

import pytest
import torch

from knowgen.config import resolve_config
from knowgen.data.datasets import FASHION_MNIST_DEBIAN_DIR, Dataset
from knowgen.train import precision


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Never touch the user's cache or data folders from a test."""
    monkeypatch.setenv("KNOWGEN_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("KNOWGEN_DATA", raising=False)
    torch.set_num_threads(2)


@pytest.fixture(autouse=True, scope="session")
def fp32_auto_precision():
    """train.precision="auto" would pick bf16 on some machines and fp32 on others; tests of
    trajectories and fixtures must not depend on the machine, nor time a micro-benchmark
    (tests/train/test_precision.py tests "auto" itself). Session-wide, so that module-scoped
    fixtures that train are pinned too."""
    pinned = precision.PrecisionChoice("fp32", "pinned by the test suite")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(precision, "auto_precision", lambda device: pinned)
        yield


TINY = [
    'data.name="digits"',
    'model.name="dcgan"',
    "model.z_dim=8",
    "model.width=8",
    "train.batch_size=16",
    "train.steps=40",
    "train.log_every=10",
    "train.sample_every=20",
    "train.checkpoint_every=20",
    "train.num_samples=16",
    "train.tensorboard=false",
    "train.ema_halflife_steps=10.0",
    'train.precision="fp32"',  # subprocesses (torchrun workers) are not pinned by the fixture
]


def train_tiny_text_model(run, monkeypatch, extra: tuple[str, ...] = ()) -> None:
    """A `text` model of Fashion-MNIST's class names, trained two steps on random 8x8 images of
    those classes, its caption bank cut to one adjective: seconds, with the real sentence
    encoder (the caller skips without it)."""
    from knowgen.train.loop import train
    from tests.test_python_api_doc import garments

    monkeypatch.setattr("knowgen.knowledge.captions.ADJECTIVES", [""])
    text = ['model.name="sagan"', 'loss.kind="hinge"', 'knowledge.condition="text"',
            "train.steps=2", 'data.name="fashion-mnist"']  # fmt: skip
    train(resolve_config("dcgan", TINY + text + list(extra)), run, dataset=garments())


@pytest.fixture
def tiny_config():
    """A dcgan on 8x8 digits that trains in about a second."""

    def make(*extra: str):
        return resolve_config("dcgan", TINY + list(extra))

    return make


@pytest.fixture
def random_dataset():
    """A small random uint8 dataset (64 images, 1x8x8) with two classes."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (64, 1, 8, 8), generator=generator, dtype=torch.uint8)
    return Dataset(images, torch.arange(64) % 2, ["a", "b"], "random")


requires_fashion_mnist = pytest.mark.skipif(
    not FASHION_MNIST_DEBIAN_DIR.is_dir(),
    reason="Fashion-MNIST not installed (apt-get install -y dataset-fashion-mnist)",
)


@pytest.fixture(scope="session")
def fake_emoji_tarballs(tmp_path_factory):
    """Small procedural emoji tarballs in the npm layout (tests/data/fake_emoji.py) and the
    pins that accept them."""
    from tests.data.fake_emoji import make_tarballs

    folder = tmp_path_factory.mktemp("emoji-tarballs")
    return folder, make_tarballs(folder)


@pytest.fixture
def fake_emoji(fake_emoji_tarballs, tmp_path, monkeypatch):
    """The fake emoji tarballs fetched (--from) into a fresh data folder, pins replaced; yields
    the folder they came from."""
    from knowgen.data import emoji
    from knowgen.data.npm import fetch_packages

    source, pins = fake_emoji_tarballs
    monkeypatch.setattr(emoji, "PACKAGES", pins)
    monkeypatch.setenv("KNOWGEN_DATA", str(tmp_path / "data"))
    emoji.emoji_table.cache_clear()
    fetch_packages(list(pins.values()), emoji.emoji_folder(), source)
    yield source
    emoji.emoji_table.cache_clear()


TINY_EMOJI = [
    "model.width=8",
    "model.z_dim=8",
    "train.batch_size=8",
    "train.steps=4",
    "train.log_every=2",
    "train.sample_every=4",
    "train.checkpoint_every=4",
    "train.num_samples=8",
    "train.tensorboard=false",
    'train.precision="fp32"',
]


@pytest.fixture
def emoji_run(fake_emoji, tmp_path):
    """A 4-step `emoji` run (group + style) on the fake tarballs."""
    from knowgen.config import resolve_config
    from knowgen.train.loop import train

    train(resolve_config("emoji", TINY_EMOJI), tmp_path / "emoji")
    return tmp_path / "emoji"
