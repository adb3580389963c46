"""InfoGAN codes: carried in z, written back exactly, learned through the MI term by G and Q."""

import pytest
import torch

from knowgen.config import resolve_config
from knowgen.data import load_dataset
from knowgen.images import to_float
from knowgen.models import ModelConfig, build_discriminator, build_generator
from knowgen.models.codes import LatentCodes, information_loss, traverse_code
from knowgen.train.state import init_state
from knowgen.train.steps import d_step, generate_fake, information_term
from tests.conftest import TINY

INFO = ["model.info_categorical=[3]", "model.info_continuous=2"]


def test_categorical_slots_read_as_uniform_categories():
    codes = LatentCodes((3, 4), 1)
    slots = torch.randn(60000, codes.slots, generator=torch.Generator().manual_seed(0))
    categories, continuous = codes.read(slots)
    for values, k in zip(categories, (3, 4), strict=True):
        counts = torch.bincount(values, minlength=k).float() / len(values)
        assert torch.allclose(counts, torch.full((k,), 1 / k), atol=0.01)
    assert torch.equal(continuous, slots[:, -1:])
    inputs = codes.as_inputs(slots)
    assert inputs.shape == (60000, 8) and torch.equal(inputs[:, :3].sum(1), torch.ones(60000))


def test_written_codes_read_back_and_untouched_ones_stay():
    generator = build_generator(
        ModelConfig(z_dim=5, width=8, info_categorical=(3, 4), info_continuous=2), (1, 8, 8)
    )
    assert generator.z_dim == 5 + 3 + 4 + 2
    z = torch.randn(6, generator.z_dim)
    drawn, _ = generator.code_targets(z)
    wanted = torch.tensor([0, 1, 2, 0, 1, 2])
    continuous = torch.linspace(-2, 2, 12).view(6, 2)
    written = generator.latent(z, [wanted, None], continuous)
    categories, values = generator.code_targets(written)
    assert torch.equal(categories[0], wanted) and torch.equal(categories[1], drawn[1])
    assert torch.equal(values, continuous)
    assert torch.equal(written[:, :5], z[:, :5])  # the noise is held


def test_codes_config_errors():
    with pytest.raises(ValueError, match="needs >= 2 values"):
        ModelConfig(info_categorical=(1,))
    with pytest.raises(ValueError, match="not model 'linear'"):
        ModelConfig(name="linear", info_continuous=1)


def test_information_loss_is_minimal_at_the_true_codes():
    targets = ([torch.tensor([0, 2])], torch.tensor([[0.5], [-1.0]]))
    sure = ([torch.tensor([[9.0, 0, 0], [0, 0, 9.0]])], torch.tensor([[0.5], [-1.0]]), None)
    wrong = ([torch.tensor([[0, 9.0, 0], [9.0, 0, 0]])], torch.tensor([[1.5], [0.0]]), None)
    log_var = torch.zeros(2, 1)
    assert information_loss((*sure[:2], log_var), targets, 1.0) < 0.01
    assert information_loss((*wrong[:2], log_var), targets, 1.0) > 9.0


def test_mutual_information_gradients_reach_g_and_q():
    cfg = resolve_config("dcgan", TINY + INFO)
    dataset = load_dataset(cfg.data)
    state = init_state(cfg.model, cfg.train, dataset.image_shape, torch.device("cpu"))
    q_head = state.discriminator.q_head
    fake = generate_fake(state, 16, with_grad=True)
    assert fake.codes is not None and fake.codes[0][0].shape == (16,)
    judged = state.discriminator.judge(fake.images, None)
    term = information_term(state, judged, fake.codes, cfg.loss)["info"]
    term.backward()
    for name, module in (("G", state.generator), ("Q", q_head)):
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads), name
        assert sum(g.abs().sum() for g in grads) > 0, f"no MI gradient reaches {name}"


def test_d_step_trains_q_on_the_codes():
    cfg = resolve_config("dcgan", TINY + INFO)
    dataset = load_dataset(cfg.data)
    state = init_state(cfg.model, cfg.train, dataset.image_shape, torch.device("cpu"))
    before = [p.clone() for p in state.discriminator.q_head.parameters()]
    fake = generate_fake(state, 16, with_grad=False)
    logs = d_step(state, to_float(dataset.images[:16]), None, fake, cfg.loss)
    assert float(logs["d_info"]) > 0
    after = list(state.discriminator.q_head.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))


@pytest.mark.parametrize("name", ["dcgan", "sagan", "seed"])
def test_every_discriminator_judges_with_features(name):
    cfg = ModelConfig(name=name, width=8)
    discriminator = build_discriminator(cfg, (1, 28, 28))
    x = torch.randn(3, 1, 28, 28)
    judged = discriminator.judge(x)
    assert torch.allclose(judged.logits, discriminator(x))
    assert judged.features.shape[0] == 3 and judged.features.ndim == 2


def test_traversal_varies_only_the_chosen_code():
    generator = build_generator(
        ModelConfig(z_dim=5, width=8, info_categorical=(3,), info_continuous=1), (1, 8, 8)
    ).eval()
    images, labels = traverse_code(generator, "c1", samples=4, steps=5, span=2.0)
    assert images.shape == (3 * 4, 1, 8, 8) and labels == ["c1=0", "c1=1", "c1=2"]
    images, labels = traverse_code(generator, "c2", samples=4, steps=5, span=2.0)
    assert images.shape == (5 * 4, 1, 8, 8) and labels[0] == "c2=-2.0" and labels[-1] == "c2=+2.0"
    rows = images.view(5, 4, 1, 8, 8)
    assert not torch.allclose(rows[0], rows[-1])  # the code changes the images
    with pytest.raises(ValueError, match="unknown code 'c9'"):
        traverse_code(generator, "c9", samples=4, steps=5, span=2.0)


def test_clustering_loss_prefers_confident_balanced_assignments():
    import math

    from knowgen.models.codes import clustering_loss

    confident_balanced = torch.eye(4).repeat(8, 1) * 30
    uniform = torch.zeros(32, 4)
    collapsed = torch.zeros(32, 4)
    collapsed[:, 0] = 30
    assert clustering_loss([confident_balanced]) == pytest.approx(-math.log(4), abs=1e-3)
    assert clustering_loss([uniform]) == pytest.approx(0.0, abs=1e-6)
    assert clustering_loss([collapsed]) == pytest.approx(0.0, abs=1e-3)


def test_real_clustering_term_joins_d_step_when_asked():
    cfg = resolve_config("dcgan", TINY + INFO + ["loss.info_real_weight=1.0"])
    dataset = load_dataset(cfg.data)
    state = init_state(cfg.model, cfg.train, dataset.image_shape, torch.device("cpu"))
    fake = generate_fake(state, 16, with_grad=False)
    logs = d_step(state, to_float(dataset.images[:16]), None, fake, cfg.loss)
    assert "d_info_real" in logs and float(logs["d_info_real"]) <= 0
    assert "d_info_shift" not in logs  # one more pass of D only when asked
    cfg = resolve_config("dcgan", TINY + INFO + ["loss.info_real_consistency=2.0"])
    logs = d_step(state, to_float(dataset.images[:16]), None, fake, cfg.loss)
    assert "d_info_shift" in logs and "d_info_real" not in logs
    assert 0 < float(logs["d_info_shift"]) < float("inf")


def test_consistency_is_zero_for_a_shift_that_changes_nothing_and_grows_with_disagreement():
    from knowgen.models.codes import consistency_loss

    logits = torch.randn(8, 5, generator=torch.Generator().manual_seed(0))
    assert float(consistency_loss([logits], [logits.clone()])) == pytest.approx(0.0, abs=1e-6)
    near = float(consistency_loss([logits], [logits + 0.1 * torch.randn(8, 5)]))
    far = float(consistency_loss([logits], [logits.flip(1) * 3]))
    assert 0 < near < far
    moved = logits.clone().requires_grad_(True)
    target = logits.clone().requires_grad_(True)
    consistency_loss([target], [moved + 1.0 * (torch.arange(5) == 0)]).backward()
    assert target.grad is None or float(target.grad.abs().sum()) == 0  # the target is held fixed


@pytest.mark.parametrize(
    "extra",
    [
        ['model.name="sagan"', 'knowledge.condition="class"'],
        [
            'transfer.mode="projected"',
            "transfer.teacher_width=8",
            'model.name="sagan"',
            'knowledge.condition="class"',
        ],
    ],
)
def test_conditional_infogan_trains(extra, tmp_path):
    from knowgen.train.loop import train

    cfg = resolve_config("dcgan", TINY + INFO + extra + ["train.steps=3"])
    state = train(cfg, tmp_path / "run")
    assert state.step == 3 and hasattr(state.discriminator, "q_head")
