import pytest

from knowgen.data import DataConfig
from knowgen.data.datasets import FASHION_MNIST_DEBIAN_DIR
from knowgen.metrics.evaluator import EvaluatorRecipe, load_or_train_evaluator

FASHION = DataConfig(name="fashion-mnist")
# One epoch of a narrower evaluator (~88% test accuracy, under a minute): enough to pin the
# metrics' behaviour; the shipped recipe (93%) is exercised by benchmarks/quality.py.
FAST_RECIPE = EvaluatorRecipe(widths=(16, 32, 64), num_features=128, epochs=1)


@pytest.fixture(scope="session")
def fashion_evaluator(tmp_path_factory):
    """A quickly trained Fashion-MNIST evaluator shared by the metric tests."""
    if not FASHION_MNIST_DEBIAN_DIR.is_dir():
        pytest.skip("Fashion-MNIST not installed (apt-get install -y dataset-fashion-mnist)")
    mp = pytest.MonkeyPatch()
    mp.setenv("KNOWGEN_CACHE", str(tmp_path_factory.mktemp("evaluator-cache")))
    try:
        return load_or_train_evaluator(FASHION, FAST_RECIPE)
    finally:
        mp.undo()
