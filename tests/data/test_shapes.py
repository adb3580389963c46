"""The procedural `shapes` set: every factor drawn where it was asked for, fixed per split,
cached, and judged by factor classifiers."""

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

import knowgen
from knowgen.data import DataConfig, load_dataset
from knowgen.data.color import hue_error_degrees, image_hue, structure_mask
from knowgen.data.shapes import (
    FACTOR_BINS,
    RADIUS_RANGE,
    SHAPES,
    SIZE,
    factor_labels,
    render_grey,
    render_shapes,
    shape_factors,
)

# area of each shape at circumradius 1 (square side sqrt 2; equilateral triangle; a plus of two
# 0.6 x 2*sqrt(0.91) bars; an ellipse with axes 1 and 0.5)
UNIT_AREA = {
    "square": 2.0,
    "triangle": 3 * math.sqrt(3) / 4,
    "plus": 2 * 0.6 * 2 * math.sqrt(1 - 0.09) - 0.36,
    "ellipse": math.pi * 0.5,
}


def one(shape: str, size=0.5, x=0.5, y=0.5, rotation=0.0) -> dict[str, torch.Tensor]:
    return {
        "shape": torch.tensor([SHAPES.index(shape)]),
        "hue": torch.tensor([0.3]),
        "saturation": torch.tensor([1.0]),
        "size": torch.tensor([size]),
        "x": torch.tensor([x]),
        "y": torch.tensor([y]),
        "rotation": torch.tensor([rotation]),
    }


def moments(grey: torch.Tensor) -> tuple[float, float, float, float]:
    """Area (pixels), centroid (x, y) and principal-axis angle (degrees) of one coverage map."""
    mass = grey[0, 0].double() / 255
    ys, xs = torch.meshgrid(torch.arange(SIZE) + 0.5, torch.arange(SIZE) + 0.5, indexing="ij")
    area = float(mass.sum())
    cx, cy = float((mass * xs).sum()) / area, float((mass * ys).sum()) / area
    mxx = float((mass * (xs - cx) ** 2).sum())
    myy = float((mass * (ys - cy) ** 2).sum())
    mxy = float((mass * (xs - cx) * (ys - cy)).sum())
    return area, cx, cy, math.degrees(0.5 * math.atan2(2 * mxy, mxx - myy))


@pytest.mark.parametrize("shape", SHAPES)
def test_each_shape_has_its_area_and_sits_where_asked(shape):
    low, high = RADIUS_RANGE
    for size, x, y in [(0.0, 0.1, 0.9), (1.0, 0.5, 0.5), (0.5, 0.9, 0.2)]:
        area, cx, cy, _ = moments(render_grey(one(shape, size, x, y)))
        radius = low + (high - low) * size
        assert area == pytest.approx(UNIT_AREA[shape] * radius**2, rel=0.04)
        span = SIZE - 2 * high
        # every shape's centroid is its circumcentre (the triangle is equilateral)
        assert cx == pytest.approx(high + span * x, abs=0.1)
        assert cy == pytest.approx(high + span * y, abs=0.1)


def test_rotation_turns_the_shape():
    for rotation in (0.0, 0.25, 0.5, 0.9):
        *_, angle = moments(render_grey(one("ellipse", size=1.0, rotation=rotation)))
        assert angle == pytest.approx(60 * rotation, abs=1.0)  # the long axis follows
    upright = render_grey(one("square", size=1.0))
    turned = render_grey(one("square", size=1.0, rotation=0.75))  # 45 degrees: a diamond
    assert moments(upright)[0] == pytest.approx(moments(turned)[0], rel=0.05)  # 4x4 sub-pixels
    assert upright[0, 0, 16, 8] == 0 and turned[0, 0, 16, 8] == 255  # the diamond's left tip
    assert upright[0, 0, 10, 10] == 255 and turned[0, 0, 10, 10] < 10  # the square's corner


def test_factors_are_fixed_per_split_and_shown_by_the_images():
    images, factors = render_shapes("train", 64)
    again, _ = render_shapes("train", 64)
    other, _ = render_shapes("test", 64)
    assert images.shape == (64, 3, SIZE, SIZE) and images.dtype == torch.uint8
    assert torch.equal(images, again) and not torch.equal(images, other)
    hue, _ = image_hue(images.float() / 255)
    assert hue_error_degrees(hue, factors["hue"]).max() < 3.0
    assert structure_mask(images).flatten(1).sum(1).min() >= 1  # never an empty picture
    labels = factor_labels(shape_factors(3000, "train"))
    for factor, bins in FACTOR_BINS.items():  # independent, roughly even bins
        counts = torch.bincount(labels[factor], minlength=len(bins)).double()
        assert counts.min() > 0.7 * counts.mean()


@pytest.fixture
def small_shapes(monkeypatch):
    """The real loader and cache, on 256 training and 128 test images."""
    monkeypatch.setattr("knowgen.data.shapes.NUM_IMAGES", {"train": 256, "test": 128})


def test_loading_draws_once_then_reads_the_cache(small_shapes, monkeypatch):
    data = load_dataset(DataConfig(name="shapes"))
    assert data.image_shape == (3, 32, 32) and data.class_names == SHAPES
    assert set(data.attributes) == {"hue", "saturation", "size", "x", "y", "rotation"}

    def no_drawing(*_):
        raise AssertionError("drew the shapes again")

    monkeypatch.setattr("knowgen.data.shapes.render_shapes", no_drawing)
    again = load_dataset(DataConfig(name="shapes"))
    assert torch.equal(again.images, data.images) and torch.equal(again.labels, data.labels)


def test_a_corrupt_cache_is_redrawn(small_shapes, caplog):
    from knowgen.cache import cache_dir

    first = load_dataset(DataConfig(name="shapes"))
    (cached,) = cache_dir("datasets").glob("shapes-*-train-*.pt")
    cached.write_bytes(b"not a tensor file")
    again = load_dataset(DataConfig(name="shapes"))
    assert torch.equal(again.images, first.images) and "is damaged" in caplog.text


@pytest.fixture
def quick_recipe(monkeypatch):
    """Evaluator and factor classifiers trained in a few steps."""
    from knowgen.metrics import evaluator as ev

    quick = ev.EvaluatorRecipe(widths=(8, 8, 8), num_features=16, epochs=2, max_shift_px=0,
                               use_hflip=False, batch_size=32)  # fmt: skip
    monkeypatch.setitem(ev.RECIPES, "shapes", quick)


def test_factor_classifiers_learn_each_factor(small_shapes, quick_recipe):
    from knowgen.metrics import evaluator as ev

    nets = ev.load_or_train_factor_classifiers(DataConfig(name="shapes"))
    assert list(nets) == list(FACTOR_BINS)
    for factor, net in nets.items():
        assert net.class_names == FACTOR_BINS[factor] and 0.0 <= net.test_accuracy <= 1.0
        assert net.net.classifier.out_features == len(FACTOR_BINS[factor])
    again = ev.load_or_train_factor_classifiers(DataConfig(name="shapes"))  # from the cache
    assert {f: n.test_accuracy for f, n in again.items()} == {
        f: n.test_accuracy for f, n in nets.items()
    }
    assert ev.load_or_train_factor_classifiers(DataConfig(name="digits")) == {}


def test_a_fusion_run_on_shapes_is_judged_factor_by_factor(small_shapes, quick_recipe, tmp_path):
    from knowgen.cli.evaluate import format_table
    from knowgen.config import resolve_config
    from knowgen.metrics.config import EvalConfig
    from knowgen.metrics.evaluate import evaluate_generator
    from knowgen.train.loop import train
    from tests.conftest import TINY

    cfg = resolve_config("dcgan", TINY + [
        'data.name="shapes"', 'model.name="sagan"', 'knowledge.condition="fusion"',
        "model.attention_at=[8]", 'knowledge.holdout_pairs=["triangle:red"]', 'loss.kind="hinge"',
        "train.steps=4",
    ])  # fmt: skip
    train(cfg, tmp_path / "run", dataset=None)
    eval_cfg = EvalConfig(num_samples=40, reference_num=100, kid_subset_size=20)
    guided = replace(cfg.knowledge, guidance=1.5)
    scores = evaluate_generator(
        knowgen.load(tmp_path / "run"), cfg.data, eval_cfg, knowledge=guided
    )
    for factor in FACTOR_BINS:
        assert 0.0 <= scores[f"factor_{factor}_accuracy"] <= 1.0
        assert 0.0 <= scores[f"factor_{factor}_ceiling"] <= 1.0
    assert "class_alone_factor_size_accuracy" not in scores  # judged with all knowledge given
    assert scores["guidance"] == 1.5 and "heldout_joint_accuracy" in scores
    assert "all given: rotation ^ (real:" in format_table(scores)


def test_size_rotation_and_position_are_kinds_of_their_own(small_shapes, quick_recipe, tmp_path):
    from typer.testing import CliRunner

    from knowgen.cli import app
    from knowgen.config import resolve_config
    from knowgen.metrics.config import EvalConfig
    from knowgen.metrics.evaluate import evaluate_generator
    from knowgen.train.loop import train
    from tests.conftest import TINY

    kinds = 'knowledge.fusion_kinds=["class", "hue", "size", "rotation", "position"]'
    cfg = resolve_config("dcgan", TINY + [
        'data.name="shapes"', 'model.name="sagan"', 'knowledge.condition="fusion"', kinds,
        'loss.kind="hinge"', "train.steps=4",
    ])  # fmt: skip
    state = train(cfg, tmp_path / "run")
    cond = state.conditioning.fused.of_images(torch.arange(3))
    assert cond["size"].shape == (3,) and cond["position"].shape == (3, 2)
    scores = evaluate_generator(knowgen.load(tmp_path / "run"), cfg.data, EvalConfig(num_samples=20,
                                reference_num=50, kid_subset_size=10))  # fmt: skip
    for kind in ("size", "rotation", "position"):  # each judged alone by its own classifier
        assert 0 <= scores[f"{kind}_alone_factor_{kind}_accuracy"] <= 1
    assert "hue_alone_factor_size_accuracy" not in scores
    npy = tmp_path / "a.npy"
    args = ["sample", str(tmp_path / "run"), "--attribute", "rotation=0", "--attribute",
            "rotation=1", "--attribute", "position=0.2,0.8", "--n", "2", "--npy", str(npy),
            "--out", str(tmp_path / "a.png")]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert np.load(npy).shape == (4, 3, 32, 32)  # 2 rotations x 1 position, 2 each
    for bad, why in (("rotation=2", "in [0, 1]"), ("weight=0.5", "does not take 'weight'"),
                     ("position=0.5", "2 value(s)")):  # fmt: skip
        result = CliRunner().invoke(app, ["sample", str(tmp_path / "run"), "--attribute", bad])
        assert result.exit_code == 2 and why in result.output, result.output
    with pytest.raises(ValueError, match="needs the \\['size'\\] attribute"):
        from knowgen.knowledge.fusion import FusedConditions
        from tests.knowledge.test_fusion import colour_dataset

        FusedConditions(colour_dataset(), ("class", "size"), 0.0, "cpu")
