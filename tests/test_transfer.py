"""Knowledge transfer: the teacher is not the evaluator, each mode wires the teacher in as it says,
and a user's teacher loads safely."""

import pytest
import torch
from safetensors.torch import save_file

from knowgen.config import resolve_config
from knowgen.data import DataConfig, load_dataset
from knowgen.images import to_float
from knowgen.train.loop import train, train_step
from knowgen.train.state import init_state
from knowgen.transfer import (
    DeepTeacherNet,
    ProjectedDiscriminator,
    TeacherNet,
    TransferConfig,
    load_or_train_teacher,
    teacher_fingerprint,
)
from tests.conftest import TINY

DIGITS = DataConfig(name="digits")
SMALL_TEACHER = TransferConfig(teacher_width=8)


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("KNOWGEN_CACHE", str(tmp_path_factory.mktemp("teacher-cache")))
    try:
        yield load_or_train_teacher(DIGITS, SMALL_TEACHER)
    finally:
        mp.undo()


def state_for(mode, teacher, *extra):
    cfg = resolve_config(
        "dcgan", TINY + [f'transfer.mode="{mode}"', "transfer.teacher_width=8"] + list(extra)
    )
    dataset = load_dataset(cfg.data)
    state = init_state(
        cfg.model, cfg.train, dataset.image_shape, torch.device("cpu"), 10, cfg.transfer, teacher
    )
    return cfg, dataset, state


def test_teacher_learns_the_classes(teacher):
    assert teacher.test_accuracy > 0.8  # digits, a few seconds of training
    assert not any(p.requires_grad for p in teacher.net.parameters())


def test_knowgens_teacher_is_the_same_whatever_ran_before(teacher, tmp_path, monkeypatch):
    """Its cache key holds no process history, so neither may its weights."""
    monkeypatch.setenv("KNOWGEN_CACHE", str(tmp_path))
    torch.manual_seed(12345)  # another history than the module fixture's
    again = load_or_train_teacher(DIGITS, SMALL_TEACHER).net.state_dict()
    assert all(torch.equal(value, again[name]) for name, value in teacher.net.state_dict().items())


def test_teacher_and_evaluator_are_distinct_networks(teacher):
    from knowgen.metrics.evaluator import load_or_train_evaluator

    evaluator = load_or_train_evaluator(DIGITS)
    assert teacher_fingerprint(teacher.net) != teacher_fingerprint(evaluator.net)
    assert teacher.key != evaluator.key
    teacher_tensors = list(teacher.net.state_dict().values())
    for tensor in evaluator.net.state_dict().values():
        assert not any(
            t.shape == tensor.shape and torch.equal(t, tensor)
            for t in teacher_tensors
            if t.numel() > 1
        ), "the evaluator shares a weight tensor with the teacher"


def test_projected_d_trains_its_heads_and_keeps_the_teacher_frozen(teacher):
    cfg, dataset, state = state_for("projected", teacher)
    discriminator = state.discriminator
    assert isinstance(discriminator, ProjectedDiscriminator)
    frozen = {k: v.clone() for k, v in discriminator.teacher.state_dict().items()}
    mix = [m.weight.clone() for m in discriminator.mix]
    heads = [p.clone() for p in discriminator.heads.parameters()]
    for step in range(3):
        train_step(state, to_float(dataset.images[16 * step : 16 * (step + 1)]), cfg)
    assert not discriminator.teacher.training  # BatchNorm statistics stay the teacher's
    for key, value in discriminator.teacher.state_dict().items():
        assert torch.equal(value, frozen[key]), f"teacher {key} changed"
    assert all(torch.equal(a, m.weight) for a, m in zip(mix, discriminator.mix, strict=True))
    assert any(
        not torch.equal(a, b) for a, b in zip(heads, discriminator.heads.parameters(), strict=True)
    )
    assert all(p.requires_grad is False for p in discriminator.teacher.parameters())


def test_deep_teacher_gives_three_scales_and_a_classifier():
    net = DeepTeacherNet((1, 28, 28), 10, width=8)
    features = net.multiscale(torch.randn(2, 1, 28, 28))
    assert [f.shape[1:] for f in features] == [(8, 14, 14), (16, 7, 7), (32, 3, 3)]
    assert (net.widths, net.sides) == ([8, 16, 32], [14, 7, 3])
    assert net(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    assert len(DeepTeacherNet((1, 8, 8), 10, width=8).stages) == 1  # digits: one 4 px scale


def test_cross_scale_mixing_lets_fine_heads_see_deep_features():
    net = DeepTeacherNet((1, 28, 28), 10, width=8).eval()
    torch.manual_seed(0)
    plain = ProjectedDiscriminator(net, 8)
    torch.manual_seed(0)
    mixed = ProjectedDiscriminator(net, 8, cross_scale=True)
    assert all(
        torch.equal(a, b) for a, b in zip(plain.parameters(), mixed.parameters(), strict=True)
    )
    x = torch.randn(4, 1, 28, 28)
    assert not torch.allclose(plain(x), mixed(x))
    # The finest scale's projection depends on the deepest features only when mixing is on.
    for d, reaches in ((plain, False), (mixed, True)):
        feats = [f.detach().requires_grad_(True) for f in net.multiscale(x)]
        d.project(feats)[0].sum().backward()
        assert (feats[-1].grad is not None) == reaches


def test_logit_head_scores_the_teachers_class_logits():
    torch.manual_seed(0)
    net = DeepTeacherNet((1, 28, 28), 10, width=8).eval()
    d = ProjectedDiscriminator(net, 8, logit_head=True)
    x = torch.randn(4, 1, 28, 28)
    with_head = d(x)
    expected_extra = d.logit_head(net(x)).flatten()
    d.logit_head = None
    assert torch.allclose(with_head, d(x) + expected_extra, atol=1e-6)


def test_init_copies_the_teacher_trunk_into_d(teacher):
    _, _, state = state_for("init", teacher)
    for (name, ours), theirs in zip(
        state.discriminator.net.state_dict().items(),
        teacher.net.trunk.state_dict().values(),
        strict=False,
    ):
        assert torch.equal(ours, theirs), name
    with pytest.raises(ValueError, match="needs model.width equal to transfer.teacher_width"):
        state_for("init", teacher, "model.width=16")  # refused when the config is built


def test_feature_matching_adds_a_generator_term(teacher):
    cfg, dataset, state = state_for("feature-matching", teacher)
    logs = train_step(state, to_float(dataset.images[:16]), cfg)
    assert "g_fm" in logs and float(logs["g_fm"]) > 0


@pytest.mark.parametrize("mode", ["projected", "feature-matching", "vision-aided"])
def test_short_run_with_transfer_resumes_exactly(mode, tmp_path, monkeypatch):
    settings = TINY + [f'transfer.mode="{mode}"', "transfer.teacher_width=8"]
    straight = train(resolve_config("dcgan", settings + ["train.steps=30"]), tmp_path / "a")
    train(resolve_config("dcgan", settings + ["train.steps=20"]), tmp_path / "b")
    resumed = train(
        resolve_config("dcgan", settings + ["train.steps=30"]), tmp_path / "b", resume=True
    )
    for a, b in zip(
        straight.generator.state_dict().values(),
        resumed.generator.state_dict().values(),
        strict=True,
    ):
        assert torch.equal(a, b)


def test_user_teacher_loads_from_safetensors_and_refuses_pickles(tmp_path):
    net = TeacherNet((1, 8, 8), 10, width=8)
    path = tmp_path / "mine.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    loaded = load_or_train_teacher(DIGITS, TransferConfig(teacher=str(path), teacher_width=8))
    assert loaded.key == "user-mine.safetensors" and loaded.test_accuracy is None
    for a, b in zip(net.state_dict().values(), loaded.net.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="does not fit TeacherNet"):
        load_or_train_teacher(DIGITS, TransferConfig(teacher=str(path), teacher_width=16))

    class Payload:
        def __reduce__(self):
            return (print, ("pickled code ran",))

    evil = tmp_path / "evil.pt"
    torch.save({"x": Payload()}, evil)
    with pytest.raises(ValueError, match="unreadable or not a state dict"):
        load_or_train_teacher(DIGITS, TransferConfig(teacher=str(evil), teacher_width=8))


def test_transfer_config_errors():
    with pytest.raises(ValueError, match="does not exist"):
        TransferConfig(teacher="/nope/teacher.safetensors")
    with pytest.raises(ValueError, match="choose from"):
        TransferConfig(teacher_arch="resnet")
    with pytest.raises(ValueError, match="unknown transfer mode 'magic'"):
        resolve_config("dcgan", ['transfer.mode="magic"'])
    with pytest.raises(ValueError, match="names a mode twice"):
        TransferConfig(modes=("init", "init"))
    with pytest.raises(ValueError, match="transfer.mode=.* and transfer.modes=.* disagree"):
        from knowgen.config import build_config

        build_config({"transfer": {"mode": "init", "modes": ["projected"]}})


def test_vision_aided_adds_a_second_d_beside_the_normal_one(teacher):
    cfg, dataset, state = state_for("vision-aided", teacher, "transfer.aided_weight=0.5")
    aided = state.aided
    assert isinstance(aided, ProjectedDiscriminator)
    assert not isinstance(state.discriminator, ProjectedDiscriminator)  # the normal D stays
    assert state.discriminator.aided is aided  # D's optimizer and checkpoint carry it
    optimised = {id(p) for group in state.opt_d.param_groups for p in group["params"]}
    assert all(id(p) in optimised for p in aided.heads.parameters())
    frozen = {k: v.clone() for k, v in aided.teacher.state_dict().items()}
    heads = [p.clone() for p in aided.heads.parameters()]
    logs = train_step(state, to_float(dataset.images[:16]), cfg)
    assert {"d_aided", "g_aided"} <= set(logs) and float(logs["d_aided"]) > 0
    assert any(not torch.equal(a, p) for a, p in zip(heads, aided.heads.parameters(), strict=True))
    for key, value in aided.teacher.state_dict().items():
        assert torch.equal(value, frozen[key]), f"teacher {key} changed"
    off = state_for("vision-aided", teacher, "transfer.aided_weight=0")
    assert "d_aided" not in train_step(off[2], to_float(off[1].images[:16]), off[0])


def test_lazy_second_d_trains_on_every_kth_step_with_k_times_the_weight(teacher):
    cfg, dataset, state = state_for(
        "vision-aided", teacher, "transfer.aided_weight=0.5", "transfer.aided_every=3"
    )
    real = to_float(dataset.images[:16])
    heads = state.aided.heads.parameters
    for step in range(4):
        before = [p.clone() for p in heads()]
        logs = train_step(state, real, cfg)
        moved = any(not torch.equal(a, p) for a, p in zip(before, heads(), strict=True))
        assert moved == (step % 3 == 0) == ("g_aided" in logs), step  # teacher skipped between
        if step == 0:
            lazy_first = logs["d_aided"]
    # on its steps the term weighs 3x an every-step run's (fresh states: same seed, same step 0)
    every_cfg, _, every = state_for("vision-aided", teacher, "transfer.aided_weight=0.5")
    every_first = train_step(every, real, every_cfg)["d_aided"]
    assert torch.isclose(lazy_first, 3 * every_first, rtol=1e-4)
    with pytest.raises(ValueError, match="aided_every must be >= 1"):
        TransferConfig(aided_every=0)
    with pytest.raises(ValueError, match="pick them coprime"):  # G would never see it
        resolve_config("dcgan", ["transfer.aided_every=2", "train.n_critic=4"])
    resolve_config("dcgan", ["transfer.aided_every=3", "train.n_critic=2"])  # they meet


def test_teacher_of_other_classes_is_trained_on_them_only(tmp_path, monkeypatch):
    monkeypatch.setenv("KNOWGEN_CACHE", str(tmp_path))
    data = DataConfig(name="digits", classes=(0, 1, 2))
    other = TransferConfig(teacher_width=8, teacher_classes=("7", 8, 9))
    taught = load_or_train_teacher(data, other)
    assert taught.net.classifier.out_features == 3  # it learned 7, 8 and 9, not the data's
    assert taught.test_accuracy > 0.8
    assert taught.key != load_or_train_teacher(data, SMALL_TEACHER).key
    with pytest.raises(ValueError, match="share 2"):
        load_or_train_teacher(data, TransferConfig(teacher_width=8, teacher_classes=(2, 3)))
    with pytest.raises(ValueError, match="exclude each other"):
        TransferConfig(teacher=__file__, teacher_classes=(1,))
    with pytest.raises(ValueError, match="which no transfer mode uses"):
        resolve_config("dcgan", ["transfer.teacher_classes=[1]"])


def test_few_image_vision_aided_run_logs_the_overfitting_signal(tmp_path, monkeypatch):
    """The README's command, small: a class subset, a limit, a teacher of other classes."""
    import json

    monkeypatch.setenv("KNOWGEN_CACHE", str(tmp_path / "cache"))
    settings = TINY + [
        "data.classes=[0, 1, 2]",
        "data.limit=96",
        'transfer.mode="vision-aided"',
        "transfer.teacher_width=8",
        "transfer.teacher_classes=[7, 8, 9]",
        'train.diffaugment="translation"',
        "train.steps=20",
    ]
    state = train(resolve_config("dcgan", settings), tmp_path / "run")
    assert state.step == 20
    records = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    logged = [r for r in records if "d_overfit_gap" in r]
    assert logged and all(
        r["d_overfit_gap"] == pytest.approx(r["d_real_train"] - r["d_real_heldout"], abs=1e-5)
        for r in logged
    )
    saved = (tmp_path / "run" / "config.toml").read_text()
    assert "limit = 96" in saved and "classes = [0, 1, 2]" in saved
