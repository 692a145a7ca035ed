"""Model bundles: exact round trips, atomic replacement, and refusal of broken directories."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import safetensors.torch
import torch

from rnnkit import TextClassifier, load_model
from rnnkit.errors import BundleError
from rnnkit.tasks.classification.bundle import FORMAT_VERSION

from .conftest import SMALL, make_corpus

PROBE = ["a good film", "an awful plot", "the music was fine", "", "unseen words only zzz"]


@pytest.fixture(scope="module")
def fitted():
    texts, labels = make_corpus(120)
    return TextClassifier(**{**SMALL, "epochs": 2}).fit(texts, labels)


@pytest.fixture
def bundle(fitted, tmp_path):
    return fitted.save(tmp_path / "model")


def test_bundle_holds_every_file_and_the_settings(bundle, fitted):
    names = sorted(p.name for p in bundle.iterdir())
    assert names == [
        "MODEL_CARD.md",
        "config.json",
        "history.json",
        "labels.json",
        "learning_curves.png",
        "linear.safetensors",
        "model.safetensors",
        "vocab.json",
    ]
    config = json.loads((bundle / "config.json").read_text())
    assert config["params"] == fitted.get_params()
    assert config["format_version"] == FORMAT_VERSION and config["rnnkit_version"]
    assert json.loads((bundle / "labels.json").read_text()) == ["neg", "pos"]
    assert (bundle / "learning_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not any(p.name.startswith(".") for p in bundle.parent.iterdir())  # no temporary leftovers


def test_loading_in_a_new_process_gives_exactly_the_same_probabilities(bundle, fitted, tmp_path):
    script = (
        "import json, sys; from rnnkit import load_model; "
        "clf = load_model(sys.argv[1]); print(json.dumps(clf.predict_proba(json.loads(sys.argv[2])).tolist()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(bundle), json.dumps(PROBE)], capture_output=True, text=True, check=True
    )
    loaded = np.array(json.loads(out.stdout), dtype=np.float32)
    assert np.array_equal(loaded, fitted.predict_proba(PROBE))


def test_loaded_model_keeps_params_labels_and_history(bundle, fitted):
    clf = load_model(bundle)
    assert clf.get_params() == fitted.get_params()
    assert clf.classes_.tolist() == ["neg", "pos"]
    assert clf.history_ == json.loads(json.dumps(fitted.history_))
    assert clf.predict(PROBE).tolist() == fitted.predict(PROBE).tolist()


def test_saving_with_metrics_adds_metrics_and_confusion_plots(fitted, tmp_path):
    report = {"confusion_matrix": [[3, 1], [0, 4]], "labels": ["neg", "pos"], "accuracy": 0.875}
    path = fitted.save(tmp_path / "m", metrics={"test": report, "epochs": 2})
    assert json.loads((path / "metrics.json").read_text())["test"]["accuracy"] == 0.875
    assert (path / "confusion_matrix_test.png").read_bytes()[:4] == b"\x89PNG"


def test_saving_again_replaces_the_bundle_whole(fitted, tmp_path):
    path = fitted.save(tmp_path / "m", metrics={"epochs": 1})
    fitted.save(path)
    assert not (path / "metrics.json").exists()  # nothing of the old bundle survives
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_saving_over_a_directory_that_is_not_a_bundle_is_refused(fitted, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(BundleError, match="exists and is not an rnnkit model directory"):
        fitted.save(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def _break(bundle, name, content):
    (bundle / name).write_bytes(content if isinstance(content, bytes) else content.encode())


def _edit_config(bundle, **changes):
    config = json.loads((bundle / "config.json").read_text())
    config.update(changes)
    _edit(bundle, "config.json", config)


def _edit(bundle, name, data):
    (bundle / name).write_text(json.dumps(data))


def _retensor(bundle, change, name="model.safetensors"):
    tensors = safetensors.torch.load_file(str(bundle / name))
    change(tensors)
    safetensors.torch.save_file(tensors, str(bundle / name))


def _relinear(bundle, name, change):
    _retensor(bundle, lambda t: t.update({name: change(t[name])}), "linear.safetensors")


CORRUPTIONS = {
    "missing weights": (
        lambda b: (b / "model.safetensors").unlink(),
        "incomplete model directory, missing model.safetensors",
    ),
    "config not json": (lambda b: _break(b, "config.json", "{oops"), "config.json: not readable JSON"),
    "config not utf8": (lambda b: _break(b, "config.json", b"\xff\xfe"), "config.json: not readable JSON"),
    "foreign config": (lambda b: _edit(b, "config.json", [1, 2]), "config.json: not an rnnkit model configuration"),
    "newer format": (
        lambda b: _edit_config(b, format_version=FORMAT_VERSION + 1, rnnkit_version="9.0"),
        f"written by rnnkit 9.0 (bundle format {FORMAT_VERSION + 1})",
    ),
    "unknown param": (
        lambda b: _edit_config(b, params={**json.loads((b / "config.json").read_text())["params"], "x": 1}),
        "params do not match this rnnkit (check: x)",
    ),
    "bad param value": (
        lambda b: _edit_config(b, params={**json.loads((b / "config.json").read_text())["params"], "dropout": 2}),
        "config.json: dropout must be a number in [0, 1); got 2",
    ),
    "vocab size mismatch": (lambda b: _edit_config(b, vocab_size=7), "but config.json says 7"),
    "unknown config key": (lambda b: _edit_config(b, run_this="rm -rf /"), "config.json: unknown keys 'run_this'"),
    "vocab without specials": (lambda b: _edit(b, "vocab.json", {"tokens": ["a", "b"]}), "vocab.json: a vocabulary"),
    "labels not a list": (
        lambda b: _edit(b, "labels.json", {"a": 1}),
        "labels.json: expected 2 distinct sorted labels",
    ),
    "duplicate labels": (
        lambda b: _edit(b, "labels.json", ["a", "a"]),
        "labels.json: expected 2 distinct sorted labels",
    ),
    "garbage weights": (lambda b: _break(b, "model.safetensors", b"\x00" * 40), "not a readable safetensors file"),
    "extra tensor": (
        lambda b: _retensor(b, lambda t: t.update(evil=torch.zeros(1))),
        "tensors do not match config.json; unexpected evil",
    ),
    "missing tensor": (
        lambda b: _retensor(b, lambda t: t.pop("head.bias")),
        "tensors do not match config.json; missing head.bias",
    ),
    "wrong shape": (
        lambda b: _retensor(b, lambda t: t.update({"head.bias": torch.zeros(3)})),
        "tensor head.bias is (3,) F32, config.json needs (1,) F32",
    ),
    "missing linear models": (
        lambda b: (b / "linear.safetensors").unlink(),
        "incomplete model directory, missing linear.safetensors",
    ),
    "linear feature count mismatch": (
        lambda b: _edit_config(b, linear_features=3),
        "linear.safetensors: tensor columns is",
    ),
    "linear feature count not a number": (
        lambda b: _edit_config(b, linear_features="many"),
        "config.json: linear_features must be an integer in [0, 4194304]",
    ),
    "linear columns out of order": (
        lambda b: _relinear(b, "columns", lambda c: c.flip(0).contiguous()),
        "linear.safetensors: columns must be distinct increasing bucket ids in [0, 4194304)",
    ),
    "linear columns out of range": (
        lambda b: _relinear(b, "columns", lambda c: c + 2**40),
        "linear.safetensors: columns must be distinct increasing bucket ids",
    ),
    "linear weights not finite": (
        lambda b: _relinear(b, "tfidf_coef", lambda w: w * float("nan")),
        "linear.safetensors: tfidf_coef holds NaN or infinite values",
    ),
    "negative blend weights": (
        lambda b: _relinear(b, "blend", lambda w: -w),
        "linear.safetensors: bad blend weights",
    ),
}


@pytest.mark.parametrize("case", CORRUPTIONS, ids=list(CORRUPTIONS))
def test_broken_bundles_are_refused_with_a_clear_message(bundle, case):
    corrupt, message = CORRUPTIONS[case]
    corrupt(bundle)
    with pytest.raises(BundleError, match=re.escape(message)):
        load_model(bundle)


def test_a_missing_directory_is_named(tmp_path):
    with pytest.raises(BundleError, match=re.escape(f"{tmp_path / 'none'}: no such model directory")):
        load_model(tmp_path / "none")


def test_a_bundle_copied_elsewhere_still_loads(bundle, fitted, tmp_path):
    copy = shutil.copytree(bundle, tmp_path / "elsewhere")
    assert np.array_equal(load_model(copy).predict_proba(PROBE), fitted.predict_proba(PROBE))


def test_an_oversized_config_is_refused_before_anything_is_allocated(bundle):
    config = json.loads((bundle / "config.json").read_text())
    config["params"]["hidden_size"] = 10**5  # would need about 150 GB if built for real
    (bundle / "config.json").write_text(json.dumps(config))
    with pytest.raises(BundleError, match=re.escape("config.json needs")):
        load_model(bundle)
    config["params"]["hidden_size"] = 10**9  # not even a shape that can exist
    (bundle / "config.json").write_text(json.dumps(config))
    with pytest.raises(BundleError, match="describes a model that cannot be built"):
        load_model(bundle)
    config["params"]["hidden_size"] = 128
    config["params"]["embedding_dim"] = 2**63  # past a 64-bit size: PyTorch raises TypeError here
    (bundle / "config.json").write_text(json.dumps(config))
    with pytest.raises(BundleError, match="describes a model that cannot be built"):
        load_model(bundle)


def test_a_directory_with_someone_elses_config_json_is_not_replaced(fitted, tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "config.json").write_text('{"name": "my app"}')
    with pytest.raises(BundleError, match="exists and is not an rnnkit model directory"):
        fitted.save(tmp_path / "app")
    assert (tmp_path / "app" / "config.json").read_text() == '{"name": "my app"}'


def test_published_files_get_the_usual_permissions(bundle):
    import os
    import stat

    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o777 & ~mask
    assert stat.S_IMODE((bundle / "config.json").stat().st_mode) == 0o666 & ~mask


def test_a_bundle_from_rnnkit_0_1_with_the_old_encoding_name_still_loads(bundle, fitted):
    params = json.loads((bundle / "config.json").read_text())["params"]
    params["encoding"] = params.pop("token_encoding")
    _edit_config(bundle, params=params)
    assert load_model(bundle).params_["token_encoding"] == "embedding"


def test_a_bundle_of_format_1_loads_as_the_recurrent_model_alone(tmp_path):
    texts, labels = make_corpus(120)
    plain = TextClassifier(**{**SMALL, "epochs": 2, "linear": False}).fit(texts, labels)
    bundle = plain.save(tmp_path / "model")
    params = json.loads((bundle / "config.json").read_text())["params"]
    for name in ("linear", "embeddings", "freeze_embeddings"):
        del params[name]
    _edit_config(bundle, format_version=1, params=params)
    loaded = load_model(bundle)
    assert loaded.params_["linear"] is False and loaded.linear_ is None
    assert np.array_equal(loaded.predict_proba(PROBE), plain.predict_proba(PROBE))


def test_the_blend_is_saved_and_used_after_loading(bundle, fitted):
    loaded = load_model(bundle)
    assert np.array_equal(loaded.blend_weights_, fitted.blend_weights_)
    alone = loaded.predict_proba(PROBE)
    loaded.linear_ = None  # the recurrent model alone gives other probabilities
    assert not np.allclose(loaded.predict_proba(PROBE), alone)
