"""A pickle that would write a marker file when unpickled, planted wherever knowgen reads a file
(checkpoints, exports, a user's teacher, Inception weights, every cache): each read refuses it
or treats it as a broken cache, and the marker never appears."""

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from knowgen.cli import app


class Payload:
    """Unpickling this calls Path.touch(marker): code execution, if anyone lets it run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture
def plant(tmp_path):
    marker = tmp_path / "PWNED"

    def write(path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"format_version": 1, "step": Payload(marker), "x": Payload(marker)}, path)
        return path

    yield write
    assert not marker.exists(), "a pickle payload ran"


def cli(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result


def test_checkpoints_refuse_payloads(plant, tmp_path):
    run = tmp_path / "run"
    plant(run / "checkpoints" / "step-0000001.pt")
    (run / "config.toml").write_text("")
    assert cli("sample", run, "--out", tmp_path / "s.png").exit_code == 2
    assert cli("export", run).exit_code == 2
    assert cli("train", "--resume", run).exit_code == 2
    assert cli("info", run).exit_code in (0, 2)


def test_exports_refuse_payloads(plant, tmp_path):
    export = tmp_path / "export"
    plant(export / "generator.safetensors")
    meta = '{"format_version": 1, "model": {}, "image_shape": [1, 8, 8], "class_names": []}'
    (export / "generator.json").write_text(meta)
    assert cli("sample", export, "--out", tmp_path / "s.png").exit_code == 2


def test_a_users_teacher_and_inception_weights_refuse_payloads(plant, tmp_path):
    from knowgen.metrics.inception import load_inception
    from knowgen.transfer import TeacherNet, load_user_teacher

    with pytest.raises(ValueError):
        load_user_teacher(TeacherNet((1, 8, 8), 10, 8), plant(tmp_path / "teacher.pt"))
    with pytest.raises(ValueError):
        load_inception(plant(tmp_path / "pt_inception.pth"))


def test_caches_treat_payloads_as_broken_and_rebuild(plant, tmp_path, monkeypatch):
    from PIL import Image

    from knowgen.cache import cache_dir
    from knowgen.data.folder import _cache_key, list_images, load_folder
    from knowgen.data.shapes import NUM_IMAGES, VERSION

    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):
        Image.new("RGB", (8, 8), (80 * i, 0, 0)).save(folder / f"{i}.png")
    files, _, _ = list_images(folder)
    plant(cache_dir("folders") / f"{_cache_key(folder, files, 8, 3)}.pt")
    assert len(load_folder(folder, 8, 3)) == 3  # decoded again, the payload ignored
    from knowgen.data import shapes

    plant(cache_dir("datasets") / f"shapes-v{VERSION}-test-{NUM_IMAGES['test']}.pt")
    drawn = (torch.zeros(1, 3, 32, 32, dtype=torch.uint8), {})
    monkeypatch.setattr(shapes, "render_shapes", lambda split: drawn)  # drawing is slow
    assert shapes.cached_shapes("test")[0] is drawn[0]  # redrawn, the payload ignored
