"""Tiny trained models to serve: a fusion run (class, colour, structure), an InfoGAN run and a
plain dcgan, trained once per session."""

import pytest

pytest.importorskip("fastapi")


@pytest.fixture(scope="session")
def served_runs(tmp_path_factory):
    from knowgen.config import resolve_config
    from knowgen.train.loop import train
    from tests.conftest import TINY
    from tests.knowledge.test_fusion import FUSION, colour_dataset

    root = tmp_path_factory.mktemp("served")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KNOWGEN_CACHE", str(root / "cache"))
        train(resolve_config("dcgan", TINY + FUSION), root / "fusion", dataset=colour_dataset())
        train(
            resolve_config("infogan", TINY + ["train.steps=4", "model.z_dim=8"]), root / "infogan"
        )
        train(resolve_config("dcgan", TINY + ["train.steps=4"]), root / "dcgan")
    return [root / "fusion", root / "infogan", root / "dcgan"]


@pytest.fixture(scope="session")
def client(served_runs):
    from fastapi.testclient import TestClient

    from knowgen.serve.app import create_app, load_models

    with TestClient(create_app(load_models(served_runs))) as test_client:
        yield test_client
