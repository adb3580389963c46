"""Property-based fuzz of the HTTP API (hypothesis, seeded): generated bodies for every POST
endpoint, from well-formed to hostile. No response is a 5xx; every 4xx is a JSON error."""

import json

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

FIELDS = ["model", "n", "seed", "format", "nrow", "class", "text", "color", "structure",
          "structure_image", "size", "rotation", "position", "codes", "guidance", "seed_a",
          "seed_b", "steps", "code", "samples", "span", "path", "__proto__"]  # fmt: skip
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.sampled_from(["fusion", "infogan", "dcgan", "dress", "red", "#c0392b", "c1", "png", "npy",
                     "base64", "data:image/png;base64,AAAA", "NaN", "../../etc/passwd"]),
)  # fmt: skip
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=8) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),  # fmt: skip
    max_leaves=60,
)
BODIES = st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=8).map(
    lambda body: body | ({"model": body["model"]} if "model" in body else {})
)
ENDPOINTS = st.sampled_from(["/v1/generate", "/v1/interpolate", "/v1/traverse"])


@seed(11)
@settings(
    max_examples=550,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(endpoint=ENDPOINTS, body=BODIES, model=st.sampled_from(["fusion", "infogan", "dcgan", None]))
def test_no_request_makes_a_server_error(client, endpoint, body, model):
    if model is not None:
        body = body | {"model": model}
    text = json.dumps(body, allow_nan=True)
    response = client.post(endpoint, content=text, headers={"content-type": "application/json"})
    assert response.status_code < 500, (endpoint, text[:300], response.text[:300])
    if response.status_code >= 400:
        assert isinstance(response.json().get("error"), str)
