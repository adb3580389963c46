"""The class encoder, class lookup by name, and balanced class lists."""

import pytest
import torch

from knowgen.knowledge import ClassEncoder, balanced_classes, class_index

NAMES = ["t-shirt", "trouser", "sneaker"]


def test_class_encoder_gives_one_token_and_its_pooled_vector():
    encoder = ClassEncoder(3, dim=5)
    knowledge = encoder({"class": torch.tensor([0, 2, 2, 1])})
    assert knowledge.tokens.shape == (4, 1, 5) and knowledge.pooled.shape == (4, 5)
    assert torch.equal(knowledge.tokens[:, 0], knowledge.pooled)
    assert torch.equal(knowledge.pooled[1], knowledge.pooled[2])
    assert not torch.equal(knowledge.pooled[0], knowledge.pooled[1])


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        (None, "conditioned on 'class'"),
        ({"text": torch.zeros(2)}, "conditioned on 'class'"),
        ({"class": torch.tensor([0, 3])}, r"lie in \[0, 2\]"),
        ({"class": torch.tensor([0.5])}, "integer labels"),
    ],
)
def test_class_encoder_rejects_bad_conditions(conditions, message):
    with pytest.raises(ValueError, match=message):
        ClassEncoder(3, dim=4)(conditions)


def test_class_index_by_name_or_index():
    assert class_index("sneaker", NAMES) == 2
    assert class_index("Trouser", NAMES) == 1
    assert class_index("0", NAMES) == 0 and class_index(2, NAMES) == 2
    with pytest.raises(ValueError, match="choose from t-shirt, trouser, sneaker"):
        class_index("boot", NAMES)
    with pytest.raises(ValueError, match="out of range"):
        class_index("7", NAMES)


def test_balanced_classes_cover_every_class_equally():
    labels = balanced_classes(30, 10)
    assert torch.equal(torch.bincount(labels), torch.full((10,), 3))
