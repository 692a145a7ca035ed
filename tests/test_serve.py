"""The HTTP server: KServe v1 and MLflow requests answered as the models predict, explanations,
status, readiness and metrics; a matrix of bad requests, each with its status and a one-line JSON
error, after which the server still answers; batching and the full queue; and a real `rnnkit serve`
process on a loopback port."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import numpy as np
import pytest

pytest.importorskip("starlette")
from starlette.testclient import TestClient

from rnnkit import TextClassifier
from rnnkit.serve.app import Settings, create_app
from rnnkit.serve.batching import Batcher, QueueFull
from rnnkit.serve.models import served

from .conftest import SMALL, make_corpus

REVIEWS = ["this scene was great", "dull and awful music", "the actor was fun and good"]


@pytest.fixture(scope="module")
def classifier():
    return TextClassifier(**SMALL).fit(*make_corpus(240))


@pytest.fixture(scope="module")
def client(classifier):
    app = create_app([served("reviews", classifier)], Settings(max_request_bytes=100_000, max_instances=100))
    with TestClient(app) as test_client:
        yield test_client


def post(client, path: str, body, content_type: str = "application/json"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(path, content=data, headers={"Content-Type": content_type})


def test_kserve_and_mlflow_answer_as_the_model_predicts(client, classifier):
    expected = classifier.predict_proba(REVIEWS)
    answers = [
        post(client, "/v1/models/reviews:predict", {"instances": REVIEWS}),
        post(client, "/invocations", {"inputs": REVIEWS}),
        post(client, "/invocations", {"inputs": {"text": REVIEWS}}),
        post(client, "/invocations", {"dataframe_split": {"columns": ["text"], "data": [[r] for r in REVIEWS]}}),
        post(client, "/invocations", {"dataframe_records": [{"text": r} for r in REVIEWS]}),
    ]
    for response in answers:
        assert response.status_code == 200
        predictions = response.json()["predictions"]
        got = np.array([[p["probabilities"][c] for c in classifier.classes_] for p in predictions])
        np.testing.assert_allclose(got, expected, rtol=1e-6)
        assert [p["label"] for p in predictions] == classifier.predict(REVIEWS).tolist()


def test_explain_adds_token_scores_with_offsets(client):
    response = post(client, "/v1/models/reviews:explain", {"instances": ["this scene was great"]})
    explanation = response.json()["predictions"][0]["explanation"]
    top = max(explanation["tokens"], key=lambda t: t["score"])
    assert top["text"] == "great" and (top["start"], top["end"]) == (15, 20)


def test_status_health_ready_metrics_and_page(client):
    assert client.get("/v1/models/reviews").json() == {"name": "reviews", "ready": True, "kind": "TextClassifier"}
    assert client.get("/health").status_code == 200 and client.get("/ready").status_code == 200
    metrics = client.get("/metrics").text
    assert 'rnnkit_requests_total{endpoint="kserve",status="200"}' in metrics
    assert "rnnkit_request_seconds_bucket" in metrics
    page = client.get("/")
    assert page.status_code == 200 and '"name": "reviews"' in page.text and "<textarea" in page.text


BAD = [
    ("malformed JSON", "/v1/models/reviews:predict", b'{"instances": [', "application/json", 400, "not valid JSON"),
    ("not UTF-8", "/v1/models/reviews:predict", b'{"instances": ["\xff\xfe"]}', "application/json", 400, "not UTF-8"),
    (
        "not JSON",
        "/v1/models/reviews:predict",
        b"instances=a",
        "application/x-www-form-urlencoded",
        415,
        "Content-Type",
    ),
    ("no content type", "/v1/models/reviews:predict", b"{}", "", 415, "Content-Type"),
    (
        "a body over the limit",
        "/v1/models/reviews:predict",
        b'{"instances": ["' + b"a" * 150_000 + b'"]}',
        "application/json",
        413,
        "over the limit",
    ),
    (
        "10,000 instances",
        "/invocations",
        json.dumps({"inputs": ["a"] * 10_000}).encode(),
        "application/json",
        413,
        "at most 100 instances",
    ),
    (
        "instances missing",
        "/v1/models/reviews:predict",
        b'{"inputs": ["a"]}',
        "application/json",
        400,
        '{"instances": [...]}',
    ),
    (
        "instances not a list",
        "/v1/models/reviews:predict",
        b'{"instances": "a"}',
        "application/json",
        400,
        "non-empty list",
    ),
    ("no instances", "/v1/models/reviews:predict", b'{"instances": []}', "application/json", 400, "non-empty list"),
    (
        "a number for a text",
        "/v1/models/reviews:predict",
        b'{"instances": [3]}',
        "application/json",
        400,
        "must be a text",
    ),
    ("an array body", "/v1/models/reviews:predict", b'["a"]', "application/json", 400, '{"instances": [...]}'),
    (
        "an unknown model",
        "/v1/models/other:predict",
        b'{"instances": ["a"]}',
        "application/json",
        404,
        "no model named 'other'",
    ),
    (
        "an unknown action",
        "/v1/models/reviews:train",
        b'{"instances": ["a"]}',
        "application/json",
        404,
        "unknown action",
    ),
    (
        "MLflow with two keys",
        "/invocations",
        b'{"inputs": ["a"], "instances": ["b"]}',
        "application/json",
        400,
        "one of",
    ),
    (
        "MLflow with two columns",
        "/invocations",
        b'{"dataframe_split": {"columns": ["a", "b"], "data": [["x", "y"]]}}',
        "application/json",
        400,
        "one value each",
    ),
    ("deep nesting", "/invocations", b"[" * 100_000 + b"]" * 100_000, "application/json", 413, "over the limit"),
    ("deep nesting under the limit", "/invocations", b"[" * 9_000 + b"]" * 9_000, "application/json", 400, ""),
]


@pytest.mark.parametrize(
    ("path", "body", "content_type", "status", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_bad_requests_get_their_status_and_a_json_error(client, path, body, content_type, status, message):
    response = post(client, path, body, content_type)
    assert response.status_code == status
    error = response.json()["error"]
    assert message in error and "\n" not in error and "Traceback" not in error
    assert post(client, "/v1/models/reviews:predict", {"instances": ["good"]}).status_code == 200  # still serving


def test_wrong_methods_and_paths_are_json_errors(client):
    assert client.get("/v1/models/reviews:predict").status_code == 404
    response = client.put("/invocations", content=b"{}")
    assert response.status_code == 405 and "error" in response.json()
    response = client.get("/nothing/here")
    assert response.status_code == 404 and response.json() == {"error": "Not Found"}


def test_explanations_are_for_text_classifiers_only():
    from rnnkit import Forecaster

    forecaster = Forecaster(lookback=12, horizon=4, segment=4, hidden_size=8, epochs=1).fit(np.sin(np.arange(200) / 3))
    with TestClient(create_app([served("waves", forecaster)])) as client:
        history = np.sin(np.arange(12) / 3)[:, None].tolist()
        response = post(client, "/v1/models/waves:predict", {"instances": [{"history": history}]})
        assert response.status_code == 200
        np.testing.assert_allclose(
            response.json()["predictions"][0]["values"], forecaster.predict(np.array(history)), rtol=1e-6
        )
        response = post(client, "/v1/models/waves:explain", {"instances": [history]})
        assert response.status_code == 400 and "explanations are for text classifiers" in response.json()["error"]
        short = post(client, "/v1/models/waves:predict", {"instances": [[[1.0]]]})
        assert short.status_code == 400 and "the history has 1 rows of 1 values" in short.json()["error"]


def test_jobs_waiting_together_are_batched_and_a_full_queue_refuses():
    release = threading.Event()
    calls: list[int] = []

    def run(items: list) -> list:
        release.wait(5)
        calls.append(len(items))
        if "bad" in items:
            raise ValueError("bad item")
        return [item.upper() for item in items]

    async def scenario():
        batcher = Batcher(max_jobs=4, max_items=10)
        await batcher.start()
        first = asyncio.ensure_future(batcher.submit(("m", "predict"), ["a"], 1, run))
        await asyncio.sleep(0.05)  # the worker holds the first job
        waiting = [asyncio.ensure_future(batcher.submit(("m", "predict"), [x, x], 2, run)) for x in "bcd"]
        failing = asyncio.ensure_future(batcher.submit(("m", "predict"), ["bad"], 1, run))
        await asyncio.sleep(0.05)
        with pytest.raises(QueueFull):
            await batcher.submit(("m", "predict"), ["e"], 1, run)
        release.set()
        results = await asyncio.gather(first, *waiting)
        with pytest.raises(ValueError, match="bad item"):
            await failing
        await batcher.stop()
        return results

    results = asyncio.run(scenario())
    assert results == [["A"], ["B", "B"], ["C", "C"], ["D", "D"]]
    assert calls[:2] == [1, 7]  # the three waiting jobs and the bad one in one batch, which failed
    assert sorted(calls[2:]) == [1, 2, 2, 2]  # then each alone: only the bad one fails


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_real_server_process_on_loopback(classifier, tmp_path):
    bundle = classifier.save(tmp_path / "reviews")
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "rnnkit", "serve", str(bundle), "--port", str(port), "--body-timeout", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"{base}/ready", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        request = urllib.request.Request(
            f"{base}/v1/models/reviews:predict",
            data=json.dumps({"instances": REVIEWS}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            predictions = json.loads(response.read())["predictions"]
        assert [p["label"] for p in predictions] == classifier.predict(REVIEWS).tolist()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:  # a client that stalls
            head = "POST /v1/models/reviews:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            slow.sendall((head + "Content-Length: 100\r\n\r\n" + '{"instances": ["go').encode())
            answer = b""
            while not answer.endswith(b"}"):  # the head and the body may come in separate segments
                chunk = slow.recv(4096)
                if not chunk:
                    break
                answer += chunk
            answer = answer.decode()
        assert answer.startswith("HTTP/1.1 408") and '"error":"the body did not arrive within 1 s"' in answer
        with urllib.request.urlopen(request, timeout=10) as response:  # and the server still answers
            assert response.status == 200
        busy = subprocess.run(
            [sys.executable, "-m", "rnnkit", "serve", str(bundle), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert busy.returncode == 2 and busy.stderr.startswith(f"rnnkit: error: cannot listen on 127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_taggers_and_series_classifiers_answer_in_their_shapes():
    from rnnkit import SequenceTagger, SeriesClassifier

    from .tagging_corpus import SMALL_TAGGER, make_tagged

    tagger = SequenceTagger(**{**SMALL_TAGGER, "epochs": 6}).fit(*make_tagged(300))
    rng = np.random.default_rng(0)
    ramps = [np.linspace(-1, 1, 20)[:, None] * (1 if i % 2 else -1) + 0.1 * rng.normal(size=(20, 1)) for i in range(40)]
    series = SeriesClassifier(hidden_size=8, epochs=2, folds=1).fit(
        ramps, ["up" if i % 2 else "down" for i in range(40)]
    )
    with TestClient(create_app([served("ner", tagger), served("ramps", series)])) as client:
        text = "Yesterday Tom Berg visited Paris."
        got = post(client, "/v1/models/ner:predict", {"instances": [text]}).json()["predictions"][0]
        assert got["entities"] == tagger.predict_entities([text])[0]
        assert [t["text"] for t in got["tokens"]] == ["Yesterday", "Tom", "Berg", "visited", "Paris", "."]
        got = post(client, "/v1/models/ramps:predict", {"instances": [ramps[0][:, 0].tolist()]}).json()
        expected = series.predict_proba([ramps[0]])[0]
        assert got["predictions"][0]["probabilities"]["down"] == pytest.approx(float(expected[0]), rel=1e-6)
        wrong = post(client, "/v1/models/ramps:predict", {"instances": [[[1.0, 2.0]] * 5]})
        assert wrong.status_code == 400 and wrong.json()["error"] == "the series has 2 channel(s); the model reads 1"


def test_translators_and_language_models_answer_as_they_predict():
    from rnnkit import LanguageModel, Translator

    from .test_language_model import PATTERN
    from .test_translator import toy_pairs

    translator = Translator(hidden_size=16, embedding_dim=8, vocab_size=300, epochs=1).fit(*toy_pairs(80))
    lm = LanguageModel(hidden_size=16, embedding_dim=8, batch_size=4, steps=10, epochs=1).fit(PATTERN)
    with TestClient(create_app([served("code", translator), served("cats", lm)])) as client:
        texts = ["cat dog", {"text": "red sun sea"}]
        got = post(client, "/v1/models/code:predict", {"instances": texts}).json()["predictions"]
        assert got == [{"translation": t} for t in translator.translate(["cat dog", "red sun sea"])]
        got = post(client, "/invocations", {"inputs": ["old hat"]}).json()["predictions"]
        assert got == [{"translation": translator.translate(["old hat"])[0]}]
        prompt = {"prompt": "the ", "length": 12, "temperature": 0.5, "seed": 3}
        got = post(client, "/v1/models/cats:predict", {"instances": [prompt, "the d"]}).json()["predictions"]
        assert got[0] == {"text": lm.generate("the ", length=12, temperature=0.5, seed=3)}
        assert got[1]["text"].startswith("the d") and len(got[1]["text"]) == len("the d") + 200
        for bad, message in (
            ({"prompt": "a", "length": 0}, "length must be an integer from 1 to"),
            ({"prompt": 3}, "each instance must be a prompt, or an object with the keys"),
            ({"prompt": "a", "colour": 1}, "each instance must be a prompt, or an object with the keys"),
        ):
            response = post(client, "/v1/models/cats:predict", {"instances": [bad]})
            assert response.status_code == 400 and response.json()["error"].startswith(message)
        response = post(client, "/v1/models/code:predict", {"instances": [7]})
        assert response.status_code == 400 and response.json()["error"].startswith("each instance must be a text")
