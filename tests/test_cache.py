"""Caches heal: every kind of cache entry, truncated or emptied, is rebuilt with one warning
line and the call succeeds; safetensors entries are checked against the SHA-256 they carry;
two processes that want the same missing entry build it once."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from knowgen.cache import cache_dir, cached, read_cache, read_tensors, write_tensors

DAMAGE = {
    "truncated": lambda data: data[: len(data) // 2],
    "zero-byte": lambda data: b"",
}


def damaged_once(path: Path, damage: str, caplog) -> None:
    path.write_bytes(DAMAGE[damage](path.read_bytes()))
    caplog.clear()


def assert_rebuilt(path: Path, caplog) -> None:
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len([w for w in warnings if "is damaged" in w and str(path) in w]) == 1, warnings
    assert path.is_file() and path.stat().st_size > 0
    assert not list(path.parent.glob(".*.tmp"))


@pytest.mark.parametrize("damage", ["truncated", "zero-byte", "flipped byte", "long header"])
def test_a_damaged_safetensors_entry_is_refused_and_removed(damage, tmp_path, caplog):
    path = tmp_path / "e.safetensors"
    write_tensors(path, {"x": torch.arange(1000.0)})
    assert torch.equal(read_tensors(path)["x"], torch.arange(1000.0))
    data = bytearray(path.read_bytes())
    if damage == "flipped byte":  # inside the tensor data: only the hash can tell
        data[-10] ^= 0x01
    elif damage == "long header":
        data[:8] = (len(data) * 2).to_bytes(8, "little")
    else:
        data = DAMAGE[damage](bytes(data))
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="knowgen"):
        assert read_cache(path, read_tensors, "test") is None
    assert "test cache" in caplog.text and "is damaged" in caplog.text and not path.exists()


def test_an_entry_from_before_the_hash_is_still_read(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "old.safetensors"
    save_file({"x": torch.ones(3)}, str(path))
    assert torch.equal(read_tensors(path)["x"], torch.ones(3))


def test_an_entry_made_for_something_else_is_replaced_without_a_warning(tmp_path, caplog):
    path = tmp_path / "e.safetensors"
    write_tensors(path, {"x": torch.ones(2)})
    with caplog.at_level(logging.WARNING, logger="knowgen"):
        rebuilt = cached(path, lambda p: None, lambda: "rebuilt", "test")
    assert rebuilt == "rebuilt" and "damaged" not in caplog.text


BUILDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from knowgen.cache import cached
    entry, log = Path(sys.argv[1]), Path(sys.argv[2])

    def build():
        with open(log, "a") as handle:
            handle.write("built\\n")
        time.sleep(1.0)
        entry.write_text("value")
        return "value"

    print(cached(entry, lambda p: p.read_text() or None, build, "test"))
    """
)


def test_two_processes_build_a_missing_entry_once(tmp_path):
    entry, log = tmp_path / "entry.txt", tmp_path / "builds.log"
    command = [sys.executable, "-c", BUILDER, str(entry), str(log)]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=60)[0].strip() for p in processes]
    assert outputs == ["value", "value"] and log.read_text() == "built\n"


# each kind of cache: a call that makes (or reads) its entry, and where the entry lies


def folder_cache():
    from PIL import Image

    from knowgen.data.folder import load_folder

    folder = cache_dir().parent / "images"
    folder.mkdir(exist_ok=True)
    for i in range(3):
        Image.new("RGB", (8, 8), (80 * i, 0, 0)).save(folder / f"{i}.png")
    return lambda: len(load_folder(folder, 8, 3)), lambda: one(cache_dir("folders").glob("*.pt"))


def text_cache():
    from knowgen.knowledge.text import cached_embeddings
    from tests.knowledge.test_text import CountingEmbedder

    embedder = CountingEmbedder()
    make = lambda: cached_embeddings(embedder, ["a shoe", "a bag"])["pooled"].tolist()  # noqa: E731
    return make, lambda: one(cache_dir("text").glob("*.safetensors"))


def classifier_cache(random_dataset):
    from knowgen.metrics.evaluator import EvaluatorRecipe, load_or_train_classifier
    from knowgen.transfer import TeacherNet

    recipe = EvaluatorRecipe(epochs=1, batch_size=32, max_shift_px=0, use_hflip=False)

    def make():
        torch.manual_seed(0)
        net = TeacherNet((1, 8, 8), 2, 8)
        record = load_or_train_classifier(net, "tiny", "teachers", random_dataset,
                                          lambda: random_dataset, recipe)  # fmt: skip
        return [record["test_accuracy"], net.state_dict()["classifier.weight"].sum().item()]

    return make, lambda: cache_dir("teachers") / "tiny.safetensors"


def references_cache():
    from knowgen.data import DataConfig
    from knowgen.metrics.evaluator import EvaluatorRecipe, load_or_train_evaluator
    from knowgen.metrics.features import reference_features

    quick = EvaluatorRecipe(widths=(8, 8, 8), num_features=16, epochs=1, max_shift_px=0,
                            use_hflip=False, batch_size=32)  # fmt: skip
    data = DataConfig(name="digits")
    evaluator = load_or_train_evaluator(data, quick)
    make = lambda: reference_features(evaluator, data, "test", 50).features.sum().item()  # noqa: E731
    return make, lambda: one(cache_dir("references").glob("*.safetensors"))


def shapes_cache(monkeypatch):
    from knowgen.data import shapes

    drawn = (torch.zeros(2, 3, 32, 32, dtype=torch.uint8), {"hue": torch.zeros(2)})
    monkeypatch.setattr(shapes, "render_shapes", lambda split: drawn)  # drawing is slow
    make = lambda: shapes.cached_shapes("test")[0].shape  # noqa: E731
    return make, lambda: one(cache_dir("datasets").glob("shapes-*.pt"))


def precision_cache(monkeypatch):
    from knowgen.train import precision

    path = cache_dir("precision") / "auto.json"
    verdicts = json.dumps({"version": precision.CACHE_VERSION, "verdicts": {"here": 1.0}})
    path.write_text(verdicts)

    def make():
        found = precision._read_verdicts(path)
        if not found:  # what auto_precision does on a miss: measure, then write
            path.write_text(verdicts)
        return "read" if found else "measured"

    return make, lambda: path


def one(paths):
    (path,) = list(paths)
    return path


@pytest.mark.parametrize("damage", DAMAGE)
@pytest.mark.parametrize(
    "kind", ["folder", "text", "classifier", "references", "shapes", "precision"]
)
def test_each_kind_of_cache_is_rebuilt_when_damaged(kind, damage, random_dataset, monkeypatch,
                                                     caplog):  # fmt: skip
    make, entry = {
        "folder": folder_cache,
        "text": text_cache,
        "classifier": lambda: classifier_cache(random_dataset),
        "references": references_cache,
        "shapes": lambda: shapes_cache(monkeypatch),
        "precision": lambda: precision_cache(monkeypatch),
    }[kind]()
    first = make()
    damaged_once(entry(), damage, caplog)
    with caplog.at_level(logging.WARNING, logger="knowgen"):
        again = make()
    if kind == "precision":  # a verdict is measured again: the call says which it did
        assert (first, again) == ("read", "measured")
    else:
        assert again == first
    assert_rebuilt(entry(), caplog)
