"""Knowledge fusion: encoders with null tokens, condition dropout, held-out pairs, a fusion run,
its per-condition scores and the CLI."""

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from knowgen.data.color import structure_mask, tint
from knowgen.data.datasets import Dataset
from knowgen.knowledge.encoders import Conditions
from knowgen.knowledge.fusion import (
    HUE_BINS,
    FusedConditions,
    FusionEncoder,
    drop_conditions,
    hue_bin,
    in_pairs,
    parse_holdout,
)
from knowgen.metrics.fusion import obeyed, summarise

CLASSES = ["dress", "sneaker", "bag"]


def colour_dataset(n=96, side=8):
    """Tinted rectangles whose size depends on the class: every factor known."""
    grey = torch.zeros(n, 1, side, side, dtype=torch.uint8)
    labels = torch.arange(n) % 3
    for i in range(n):
        top = 1 + int(labels[i])
        grey[i, 0, top:7, 2:6] = 200
    hue = torch.rand(n, generator=torch.Generator().manual_seed(0))
    images = tint(grey, hue, torch.ones(n))
    return Dataset(images, labels, CLASSES, "colour-toy", attributes={"hue": hue})


def test_fusion_encoder_null_tokens_and_shapes():
    encoder = FusionEncoder(("class", "hue", "structure"), 3, 16)
    cond = {
        "class": torch.tensor([0, 1]),
        "hue": torch.tensor([0.1, 0.6]),
        "structure": torch.ones(2, 1, 7, 7),
    }
    full = encoder(cond)
    assert full.pooled.shape == (2, 16) and full.tokens.shape == (2, 1 + 1 + 49, 16)
    only_class = encoder({"class": torch.tensor([0, 1])})
    assert only_class.tokens.shape == (2, 3, 16)  # absent kinds: one null token each
    masked = encoder(Conditions(cond, given={"hue": torch.tensor([True, False])}))
    assert torch.allclose(masked.pooled[0], full.pooled[0])
    assert not torch.allclose(masked.pooled[1], full.pooled[1])
    assert torch.allclose(masked.tokens[1, 1], encoder.null_token["hue"])
    with pytest.raises(ValueError, match="choose from"):
        FusionEncoder(("class", "smell"), 3, 16)


@pytest.mark.machine_sensitive
def test_discriminator_side_sums_one_term_per_kind():
    encoder = FusionEncoder(("class", "hue"), 3, 8, sum_pooled=True, out_dim=32)
    cond = {"class": torch.tensor([2]), "hue": torch.tensor([0.3])}
    both = encoder(cond).pooled
    no = torch.tensor([False])
    no_hue = encoder(Conditions(cond, given={"hue": no})).pooled
    no_class = encoder(Conditions(cond, given={"class": no})).pooled
    nothing = encoder(Conditions(cond, given={"class": no, "hue": no})).pooled
    assert both.shape == (1, 32)
    assert torch.allclose(both - no_hue, no_class - nothing, atol=1e-6)  # additive per kind


def test_condition_dropout_rate():
    torch.manual_seed(0)
    cond = Conditions({"class": torch.zeros(20000, dtype=torch.long)})
    dropped = drop_conditions(cond, ("class",), 0.25)
    assert abs(1 - dropped.given["class"].float().mean().item() - 0.25) < 0.02
    assert drop_conditions(cond, ("class",), 0.0) is cond


def test_single_kind_training_keeps_exactly_one_kind():
    torch.manual_seed(0)
    n = 4000
    cond = Conditions({"class": torch.zeros(n, dtype=torch.long), "hue": torch.rand(n),
                       "structure": torch.ones(n, 1, 7, 7)})  # fmt: skip
    kinds = ("class", "hue", "structure")
    out = drop_conditions(cond, kinds, 0.1, single=1.0)
    kept = torch.stack([out.given[k] for k in kinds], dim=1)
    assert kept.sum(1).eq(1).all()  # one kind each
    assert (kept.float().mean(0) - 1 / 3).abs().max() < 0.03  # chosen evenly
    some = drop_conditions(cond, kinds, 0.0, single=0.5)
    alone = torch.stack([some.given[k] for k in kinds], dim=1).sum(1).eq(1)
    assert abs(alone.float().mean().item() - 0.5) < 0.03
    torch.manual_seed(1)
    plain = drop_conditions(cond, kinds, 0.1)
    torch.manual_seed(1)
    same = drop_conditions(cond, kinds, 0.1, single=0.0)  # no extra draws: same trajectory
    assert all(torch.equal(plain.given[k], same.given[k]) for k in kinds)


def test_held_out_pairs_parse_and_select():
    pairs = parse_holdout(("dress:red", "bag:blue"), CLASSES)
    assert pairs == [(0, 0), (2, 4)]
    labels, hue = torch.tensor([0, 0, 2, 1]), torch.tensor([0.02, 0.5, 0.66, 0.66])
    assert in_pairs(labels, hue, pairs).tolist() == [True, False, True, False]
    with pytest.raises(ValueError, match="colour must be one of"):
        parse_holdout(("dress:mauve",), CLASSES)
    with pytest.raises(ValueError, match="unknown class"):
        parse_holdout(("zebra:red",), CLASSES)


def test_per_condition_scores_on_images_that_obey():
    data = colour_dataset()
    source = FusedConditions(data, ("class", "hue", "structure"), 0.0, "cpu")
    cond = source.of_images(torch.arange(12))
    logits = torch.nn.functional.one_hot(data.labels[:12], 3).float()
    scores = summarise(obeyed(data.images[:12], cond, logits))
    assert scores["class_accuracy"] == 1.0 and scores["structure_iou"] == 1.0
    assert scores["hue_error_median"] < 2.0 and scores["joint_accuracy"] == 1.0
    wrong = summarise(obeyed(data.images[:12].flip(0), cond, logits.roll(1, 0)))
    assert wrong["class_accuracy"] == 0.0 and wrong["joint_accuracy"] < 1.0


FUSION = [
    'model.name="sagan"',
    'knowledge.condition="fusion"',
    'knowledge.fusion="cross-attention"',
    "model.attention_at=[4]",
    'knowledge.holdout_pairs=["dress:red"]',
    'loss.kind="hinge"',
    "train.steps=6",
]


@pytest.fixture(scope="module")
def fusion_run(tmp_path_factory):
    from knowgen.config import resolve_config
    from knowgen.train.loop import train
    from tests.conftest import TINY

    run = tmp_path_factory.mktemp("runs") / "fusion"
    cfg = resolve_config("dcgan", TINY + FUSION)
    state = train(cfg, run, dataset=colour_dataset())
    return run, state


def test_fusion_run_never_trains_on_held_out_pairs(fusion_run):
    _, state = fusion_run
    source = state.conditioning.fused
    seen = in_pairs(source.columns["class"], source.columns["hue"], [(0, 0)])
    assert source.size < 96 and not seen.any()


@pytest.mark.parametrize("fusion", ["concat", "film", "cross-attention"])
def test_every_fusion_mode_trains(tmp_path, fusion):
    from knowgen.config import resolve_config
    from knowgen.train.loop import train
    from tests.conftest import TINY

    cfg = resolve_config("dcgan", TINY + FUSION + [f'knowledge.fusion="{fusion}"'])
    state = train(cfg, tmp_path / fusion, dataset=colour_dataset())
    images = state.ema.model(torch.randn(3, state.z_dim), {"class": torch.tensor([0, 1, 2])})
    assert images.shape == (3, 3, 8, 8) and torch.isfinite(images).all()


def test_sample_any_subset_from_the_cli(fusion_run, tmp_path):
    from knowgen.cli import app

    run, _ = fusion_run
    Image.new("L", (20, 20), 255).save(tmp_path / "mask.png")
    npy = tmp_path / "s.npy"
    args = ["sample", str(run), "--class", "dress", "--class", "bag", "--color", "#c0392b",
            "--structure", str(tmp_path / "mask.png"), "--n", "4", "--npy", str(npy),
            "--out", str(tmp_path / "s.png")]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert np.load(npy).shape == (8, 3, 8, 8)  # two rows (dress, bag) of four
    result = CliRunner().invoke(app, ["sample", str(run), "--color", "blue", "--out",
                                      str(tmp_path / "c.png")])  # fmt: skip
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(app, ["sample", str(run), "--color", "#808080"])
    assert result.exit_code == 2 and "no hue" in result.output


def test_structure_of_a_user_image(tmp_path):
    from knowgen.knowledge.kinds import KINDS

    picture = np.zeros((40, 40), dtype=np.uint8)
    picture[:, :20] = 255
    Image.fromarray(picture).save(tmp_path / "left.png")
    mask = KINDS["structure"].mask(tmp_path / "left.png", 28)
    assert mask.shape == (1, 1, 7, 7)
    assert mask[0, 0, :, :3].all() and not mask[0, 0, :, 4:].any()
    assert torch.equal(structure_mask(torch.zeros(1, 1, 28, 28)), torch.zeros(1, 1, 7, 7))


def test_evaluate_table_shows_each_condition():
    from knowgen.cli.evaluate import format_table

    scores = {
        "fid": 50.0, "kid": 0.01, "kid_std": 0.001, "is": 5.0, "is_std": 0.1, "precision": 0.8,
        "recall": 0.5, "density": 1.0, "coverage": 0.6, "modes_covered": 10,
        "class_entropy": 0.99, "num_samples": 100, "num_reference": 100,
        "reference_split": "test", "evaluator": "e", "evaluator_test_accuracy": 0.93,
        "class_accuracy": 0.91, "hue_error_median": 7.5, "structure_iou": 0.82,
        "joint_accuracy": 0.6, "heldout_class_accuracy": 0.88, "heldout_hue_error_median": 9.0,
        "heldout_structure_iou": 0.8, "heldout_joint_accuracy": 0.5, "heldout_fid": 70.0,
    }  # fmt: skip
    table = format_table(scores)
    assert "all given: hue error v (median)" in table and "7.5 deg" in table
    assert "held-out pairs: joint ^" in table and "50.00%" in table


def test_structure_vector_knows_where_not_only_how_much():
    from knowgen.knowledge.fusion import StructureEncoder

    torch.manual_seed(0)
    encoder = StructureEncoder(16)
    left, right = torch.zeros(1, 1, 7, 7), torch.zeros(1, 1, 7, 7)
    left[..., 2:5, 1:3] = 1
    right[..., 2:5, 4:6] = 1  # the same area elsewhere: a mean of
    # the cell tokens would tell them apart only through border effects (relative difference
    # 0.07-0.12 over seeds 0-4; the ordered map: 0.68-1.57)
    a = encoder({"structure": left}).pooled
    b = encoder({"structure": right}).pooled
    assert (a - b).norm() > 0.4 * a.norm()


@pytest.mark.machine_sensitive
def test_guidance_moves_each_given_kind_away_from_its_null():
    torch.manual_seed(0)
    encoder = FusionEncoder(("class", "hue", "structure"), 3, 16)
    with torch.no_grad():  # null tokens are learned; make them non-trivial
        for kind in encoder.kinds:
            encoder.null_pooled[kind].normal_()
    values = {"class": torch.tensor([0, 2]), "hue": torch.tensor([0.1, 0.6])}
    hue_given = {"hue": torch.tensor([True, False])}

    def guided(scale):
        return Conditions(values, hue_given, None if scale is None else torch.as_tensor(scale))

    plain = encoder(guided(None))
    assert torch.allclose(encoder(guided(torch.ones(2))).pooled, plain.pooled)
    no = torch.zeros(2, dtype=torch.bool)
    nothing = encoder(Conditions(values, {"class": no, "hue": no}))
    assert torch.allclose(encoder(guided(torch.zeros(2))).pooled, nothing.pooled, atol=1e-6)
    # the fused vector is linear in each kind's vector: s = 2 doubles the step from s = 0
    double = encoder(guided(torch.full((2,), 2.0)))
    assert torch.allclose(double.pooled - plain.pooled, plain.pooled - nothing.pooled, atol=1e-5)
    tokens = encoder(guided(torch.tensor([2.0, 3.0]))).tokens
    assert torch.allclose(tokens[1, 1], encoder.null_token["hue"])  # not given: still null


def test_descriptions_name_class_and_colour():
    from knowgen.data.shapes import SHAPES, shape_factors
    from knowgen.knowledge.fusion import describe_images

    data = colour_dataset()
    captions, index = describe_images(data)
    assert len(index) == len(data) and len(captions) <= 3 * 6
    for i in range(6):
        colour = HUE_BINS[int(hue_bin(data.attributes["hue"][i]))]
        assert captions[index[i]] == f"a {colour} {CLASSES[int(data.labels[i])]}"
    factors = shape_factors(4, "train")
    factors |= {"shape": torch.tensor([1, 0, 3, 2]), "hue": torch.tensor([0.0, 0.33, 0.5, 0.67]),
                "size": torch.tensor([0.9, 0.1, 0.5, 0.5]), "x": torch.tensor([0.1, 0.5, 0.9, 0.5]),
                "y": torch.tensor([0.1, 0.5, 0.9, 0.1])}  # fmt: skip
    blank = torch.zeros(4, 3, 32, 32, dtype=torch.uint8)
    shapes = Dataset(blank, factors.pop("shape"), SHAPES, "shapes", attributes=factors)
    captions, index = describe_images(shapes)
    assert [captions[i] for i in index] == [
        "a large red triangle at the top left",
        "a small green square in the centre",
        "a medium cyan ellipse at the bottom right",
        "a medium blue plus at the top middle",
    ]


TEXT = ['knowledge.fusion_kinds=["class", "hue", "structure", "text"]']


def test_text_is_one_more_fused_kind(tmp_path):
    from knowgen.cli import app
    from knowgen.config import resolve_config
    from knowgen.knowledge.kinds import describe_images
    from knowgen.knowledge.text import SentenceEmbedder
    from knowgen.train.loop import train
    from tests.conftest import TINY

    cfg = resolve_config("dcgan", TINY + FUSION + TEXT)
    state = train(cfg, tmp_path / "run", dataset=colour_dataset())
    source = state.conditioning.fused
    cond = source.of_images(torch.arange(4))
    assert cond["text"].shape == (4, 384)
    captions, _ = describe_images(colour_dataset())
    table = SentenceEmbedder().embed(captions)
    trained = source.columns["text"].unique(dim=0)  # every training image's description
    nearest = torch.cdist(trained, table).min(1)
    assert float(nearest.values.max()) < 1e-4  # each is one of the descriptions, exactly
    described = [captions[i] for i in nearest.indices.tolist()]
    assert not any("dress" in w and "red" in w for w in described)  # held-out pair
    out = tmp_path / "t.png"
    args = ["sample", str(tmp_path / "run"), "--text", "a red dress", "--text", "a blue bag",
            "--guidance", "1", "--guidance", "2", "--n", "3", "--npy", str(tmp_path / "t.npy"),
            "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert np.load(tmp_path / "t.npy").shape == (12, 3, 8, 8)  # 2 texts x 2 scales, 3 each
    result = CliRunner().invoke(app, ["sample", str(tmp_path / "run"), "--guidance", "11"])
    assert result.exit_code == 2 and "[0, 10]" in result.output


def test_a_description_is_judged_on_the_class_and_colour_it_names():
    data = colour_dataset()
    truth = {"class": data.labels[:12], "hue": data.attributes["hue"][:12]}
    cond = {"text": torch.zeros(12, 384)}
    logits = torch.nn.functional.one_hot(data.labels[:12], 3).float()
    scores = summarise(obeyed(data.images[:12], cond, logits, truth))
    assert scores == {"class_accuracy": 1.0, "colour_accuracy": 1.0}
    shifted = {"class": truth["class"], "hue": (truth["hue"] + 0.5) % 1}
    assert summarise(obeyed(data.images[:12], cond, logits, shifted))["colour_accuracy"] == 0.0
