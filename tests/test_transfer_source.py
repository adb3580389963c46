"""Generative transfer and modes as a set: a run's G, D and EMA start from another run or an
export, new classes start from the source classes the teacher sees in them (or at random),
FreezeD and G's class-and-norm phase train what they say, mismatches are refused naming the key,
and every set of transfer modes either trains or is refused in one line."""

from __future__ import annotations

import itertools
import json

import pytest
import torch
from typer.testing import CliRunner

from knowgen.cli import app
from knowgen.config import resolve_config
from knowgen.data import load_dataset
from knowgen.train.distributed import World
from knowgen.train.loop import train
from knowgen.train.state import init_state
from knowgen.transfer import TransferConfig, load_or_train_teacher
from knowgen.transfer.config import TRANSFER_MODES
from knowgen.transfer.source import (
    begin_from_source,
    class_rows,
    discriminator_blocks,
    read_source,
    tuned_first,
)
from tests.conftest import TINY

CONDITIONAL = TINY + [
    'model.name="sagan"',
    "model.attention_at=[]",
    "model.aux_classifier=true",
    'knowledge.condition="class"',
    'loss.kind="hinge"',
    "transfer.teacher_width=8",
    "data.image_size=16",  # D has two blocks: one to freeze, one to train
]
SOURCE_CLASSES = "data.classes=[0, 1, 2, 3, 4]"
TARGET = [*CONDITIONAL, "data.classes=[5, 6, 7, 8, 9]", "data.limit=100"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One cache for the module: the teacher of the source's classes trains once."""
    mp = pytest.MonkeyPatch()
    mp.setenv("KNOWGEN_CACHE", str(tmp_path_factory.mktemp("source-cache")))
    try:
        yield
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def source_run(cache, tmp_path_factory):
    run = tmp_path_factory.mktemp("source") / "run"
    train(resolve_config("dcgan", [*CONDITIONAL, SOURCE_CLASSES, "train.steps=20"]), run)
    return run


def started(settings: list[str], tmp_path):
    """A fresh state for `settings`, started from its transfer.source as training would."""
    cfg = resolve_config("dcgan", settings)
    dataset = load_dataset(cfg.data)
    state = init_state(cfg.model, cfg.train, dataset.image_shape, torch.device("cpu"),
                       len(dataset.class_names), cfg.transfer, None, None, None,
                       cfg.knowledge)  # fmt: skip
    begin_from_source(cfg, state, dataset, tmp_path, World())
    return cfg, dataset, state


def test_g_d_and_ema_start_from_the_source_and_new_classes_from_the_teacher(
    source_run, cache, tmp_path
):
    source = read_source(source_run)
    cfg, dataset, state = started([*TARGET, f'transfer.source="{source_run}"'], tmp_path)
    rows = class_rows(state.generator) | class_rows(state.discriminator)
    assert {"encoder.table.weight", "aux_head.weight", "aux_head.bias"} <= rows
    for network, stored in ((state.generator, source.generator), (state.ema.model, source.ema),
                            (state.discriminator, source.discriminator)):  # fmt: skip
        for name, tensor in network.state_dict().items():
            if name not in rows:
                assert torch.equal(tensor, stored[name]), name
    record = json.loads((tmp_path / "transfer.json").read_text())
    assert record["source_step"] == 20 and record["source_classes"] == list("01234")
    # each new class's row is the teacher's mean soft prediction over its images times the
    # source's rows: recompute it from the teacher and compare
    teacher = load_or_train_teacher(read_config_data(source), TransferConfig(teacher_width=8))
    with torch.no_grad():
        from knowgen.images import to_float

        soft = teacher.net(to_float(dataset.images)).softmax(1)
    weights = torch.stack([soft[dataset.labels == c].mean(0) for c in range(5)])
    expected = weights @ source.generator["encoder.table.weight"]
    assert torch.allclose(state.generator.encoder.table.weight, expected, atol=1e-5)
    assert set(record["new_classes"]) == set("56789")
    assert all(abs(sum(parts.values()) - 1) < 0.5 for parts in record["new_classes"].values())


def read_config_data(source):
    from knowgen.config import build_config

    return build_config(source.config).data


def test_random_class_start_keeps_the_fresh_rows(source_run, cache, tmp_path):
    settings = [*TARGET, f'transfer.source="{source_run}"', 'transfer.class_start="random"']
    _, _, state = started(settings, tmp_path)
    cfg = resolve_config("dcgan", settings)
    fresh = init_state(cfg.model, cfg.train, (1, 16, 16), torch.device("cpu"), 5,
                       knowledge=cfg.knowledge)  # fmt: skip
    assert torch.equal(state.generator.encoder.table.weight, fresh.generator.encoder.table.weight)
    assert not json.loads((tmp_path / "transfer.json").read_text())["new_classes"]


def test_a_class_the_source_had_keeps_its_row(source_run, cache, tmp_path):
    settings = [*CONDITIONAL, "data.classes=[4, 5]", f'transfer.source="{source_run}"']
    _, _, state = started(settings, tmp_path)
    stored = read_source(source_run).generator["encoder.table.weight"]
    assert torch.equal(state.generator.encoder.table.weight[0], stored[4])


def test_an_export_starts_g_and_its_ema_but_not_d(source_run, cache, tmp_path):
    export = tmp_path / "export"
    result = CliRunner().invoke(app, ["export", str(source_run), "--out", str(export)])
    assert result.exit_code == 0, result.output
    _, _, state = started([*TARGET, f'transfer.source="{export}"'], tmp_path)
    stored = read_source(source_run).ema
    assert torch.equal(state.generator.project.weight, stored["project.weight"])
    assert torch.equal(state.ema.model.project.weight, stored["project.weight"])
    assert "fresh" in json.loads((tmp_path / "transfer.json").read_text())["discriminator"]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ("model.width=16", "model.width is 8 in the source, 16 here"),
        ("data.image_size=8", "the source makes 1x16x16 images, this run 1x8x8"),
        ("model.aux_classifier=false", "model.aux_classifier is True in the source, False here"),
    ],
)
def test_a_source_of_another_architecture_is_refused_naming_the_key(
    source_run, cache, tmp_path, change, named
):
    with pytest.raises(ValueError, match="does not fit this run") as err:
        started([*TARGET, f'transfer.source="{source_run}"', change], tmp_path)
    assert named in str(err.value) and "\n" not in str(err.value)


def test_a_missing_source_is_one_line(tmp_path):
    with pytest.raises(FileNotFoundError, match="transfer.source .* does not exist"):
        started([*TARGET, f'transfer.source="{tmp_path / "nope"}"'], tmp_path)


def test_freeze_d_keeps_the_first_blocks_of_d(source_run, cache, tmp_path):
    settings = [*TARGET, f'transfer.source="{source_run}"', "transfer.freeze_d=1",
                "train.steps=6", "train.checkpoint_every=3"]  # fmt: skip
    state = train(resolve_config("dcgan", settings), tmp_path / "run")
    blocks = discriminator_blocks(state.discriminator)
    stored = read_source(source_run).discriminator
    frozen = {id(p) for module in blocks[0] for p in module.parameters()}
    for name, parameter in state.discriminator.named_parameters():
        same = torch.equal(parameter.detach(), stored[name])
        assert same == (id(parameter) in frozen), name
    assert len(blocks) == 2
    with pytest.raises(ValueError, match="transfer.freeze_d=3, but D has 2 blocks"):
        train(resolve_config("dcgan", [*settings, "transfer.freeze_d=3"]), tmp_path / "r2")


def test_freeze_d_needs_weights_worth_keeping():
    with pytest.raises(ValueError, match="transfer.freeze_d keeps D's first blocks"):
        resolve_config("dcgan", [*TARGET, "transfer.freeze_d=1"])
    with pytest.raises(ValueError, match="fine-tunes a G that learned elsewhere"):
        resolve_config("dcgan", [*TARGET, 'transfer.tune_g="class-and-norm"'])


def test_class_and_norm_first_then_all_of_g(source_run, cache, tmp_path):
    settings = [*TARGET, f'transfer.source="{source_run}"', 'transfer.tune_g="class-and-norm"',
                "transfer.tune_g_steps=3", "train.steps=3"]  # fmt: skip
    state = train(resolve_config("dcgan", settings), tmp_path / "run")
    first = {id(p) for p in tuned_first(state.generator)}
    assert first and len(first) < len(list(state.generator.parameters()))
    start = init_then_source(settings, tmp_path / "again")
    for name, parameter in state.generator.named_parameters():
        moved = not torch.equal(parameter.detach(), start[name])
        assert moved == (id(parameter) in first), name
    state = train(resolve_config("dcgan", [*settings, "train.steps=5"]), tmp_path / "run",
                  resume=True)  # fmt: skip
    assert all(p.requires_grad for p in state.generator.parameters())
    assert not torch.equal(state.generator.project.weight.detach(), start["project.weight"])


def init_then_source(settings, folder):
    folder.mkdir()
    _, _, state = started(settings, folder)
    return {k: v.clone() for k, v in state.generator.state_dict().items()}


def test_a_transferred_run_resumes_exports_samples_and_names_its_source(
    source_run, cache, tmp_path
):
    settings = [*TARGET, f'transfer.source="{source_run}"', 'transfer.modes=["vision-aided"]',
                "transfer.teacher_classes=[0, 1, 2, 3, 4]", "train.steps=4",
                "train.checkpoint_every=2"]  # fmt: skip
    run = tmp_path / "run"
    train(resolve_config("dcgan", settings), run)
    state = train(resolve_config("dcgan", [*settings, "train.steps=6"]), run, resume=True)
    assert state.step == 6
    runner = CliRunner()
    info = runner.invoke(app, ["info", str(run)])
    assert info.exit_code == 0, info.output
    assert f"from {source_run}" in info.output and "vision-aided" in info.output
    out = tmp_path / "grid.png"
    for argv in (["export", str(run)], ["sample", str(run), "--class", "2", "--out", str(out)]):
        result = runner.invoke(app, argv)
        assert result.exit_code == 0, result.output


SETS = [frozenset(s) for n in (2, 3, 4) for s in itertools.combinations(TRANSFER_MODES, n)]


@pytest.mark.parametrize("modes", SETS, ids=lambda s: "+".join(sorted(s)))
def test_every_set_of_modes_trains_or_is_refused_in_one_line(modes, cache, tmp_path):
    settings = [*TINY, f"transfer.modes={json.dumps(sorted(modes))}", "transfer.teacher_width=8",
                "transfer.projection_channels=8", "train.steps=2"]  # fmt: skip
    try:
        cfg = resolve_config("dcgan", settings)
    except ValueError as err:
        assert "\n" not in str(err) and "cannot hold both" in str(err)
        assert "projected" in modes and ({"init", "vision-aided"} & modes)
        return
    state = train(cfg, tmp_path / "run")
    assert state.step == 2
    assert (state.aided is not None) == ("vision-aided" in modes)
    assert (state.teacher is not None) == ("feature-matching" in modes)


def test_a_preset_of_one_mode_takes_a_set_from_the_command_line():
    both = resolve_config("dcgan-projected", ['transfer.modes=["projected", "feature-matching"]'])
    assert both.transfer.modes == ("projected", "feature-matching")
    assert resolve_config("dcgan-projected", ['transfer.mode="none"']).transfer.modes == ()


def test_one_mode_is_a_set_of_one():
    one = resolve_config("dcgan", [*TINY, 'transfer.mode="feature-matching"'])
    assert one.transfer.modes == ("feature-matching",)
    assert resolve_config("dcgan", [*TINY, 'transfer.mode="none"']).transfer.modes == ()
    assert TransferConfig(modes=("vision-aided", "init")).modes == ("init", "vision-aided")
    with pytest.raises(ValueError, match="transfer.mode must be a mode name, got 3"):
        resolve_config("dcgan", [*TINY, "transfer.mode=3"])


def test_an_unconditional_source_asks_no_teacher(cache, tmp_path):
    source = tmp_path / "plain"
    train(resolve_config("dcgan", [*TINY, SOURCE_CLASSES, "train.steps=2"]), source)
    settings = [*TINY, "data.classes=[5, 6, 7, 8, 9]", f'transfer.source="{source}"']
    cfg, _, state = started(settings, tmp_path)
    stored = read_source(source).generator
    assert all(torch.equal(t, stored[k]) for k, t in state.generator.state_dict().items())
    assert json.loads((tmp_path / "transfer.json").read_text())["new_classes"] == {}
