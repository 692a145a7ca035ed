"""Property-based tests: random and mutated bytes fed to every reader must end in rnnkit's own errors.

A reader may accept the bytes (mutations can leave a file valid) or refuse them, but only with an
:class:`~rnnkit.errors.RnnkitError`: never a ``KeyError``, a ``RuntimeError`` from PyTorch, a
crash or a hang.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import shutil
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnkit import TextClassifier, load_model
from rnnkit.data.parallel import read_aligned, read_corpus, read_pairs
from rnnkit.data.tables import read_table
from rnnkit.errors import RnnkitError
from rnnkit.tasks.classification.model import RNNClassifier
from rnnkit.text.pipeline import Vocab
from rnnkit.train import checkpoint

from .conftest import SMALL, make_corpus

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

VALID_TABLES = {
    ".csv": b'text,label\n"a good, fine film",pos\nawful,neg\n',
    ".tsv": b"text\tlabel\nfine film\tpos\nawful\tneg\n",
    ".jsonl": b'{"text": "fine film", "label": "pos"}\n{"text": "awful", "label": 0}\n',
}


@st.composite
def mutated(draw, valid: bytes) -> bytes:
    """``valid`` with a few random edits: bytes replaced, inserted or deleted, or the end cut off."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["replace", "insert", "delete", "truncate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "replace" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete" and data:
            del data[at : at + draw(st.integers(1, 8))]
        elif kind == "truncate":
            del data[at:]
    return bytes(data)


def any_bytes(valid: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=300), mutated(valid))


def _refused_cleanly(read) -> None:
    """Run ``read``; an RnnkitError is a clean refusal, any other exception fails the test."""
    with contextlib.suppress(RnnkitError):
        read()


@pytest.fixture(scope="module")
def scratch():
    path = Path(tempfile.mkdtemp(prefix="rnnkit-fuzz-"))
    yield path
    shutil.rmtree(path)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl"])
@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gz"])
def test_table_readers_accept_or_refuse_any_bytes_with_a_data_error(scratch, suffix, compressed):
    path = scratch / f"data{suffix}{'.gz' if compressed else ''}"

    @FUZZ
    @given(data=any_bytes(VALID_TABLES[suffix]), gzip_intact=st.booleans())
    def check(data: bytes, gzip_intact: bool) -> None:
        if compressed and gzip_intact:
            data = gzip.compress(data)
        path.write_bytes(data)
        _refused_cleanly(lambda: read_table(path))

    check()


VALID_PAIRS = {
    ".csv": b'source,target\n"Ein Mann, der l\xc3\xa4uft.",A man running.\n',
    ".tsv": b"source\ttarget\nZwei Hunde\tTwo dogs\n",
    ".jsonl": b'{"source": "Zwei Hunde", "target": "Two dogs"}\n',
    ".de": b"Ein Mann.\nZwei Hunde.\n",
}


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".de"])
@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gz"])
def test_parallel_readers_accept_or_refuse_any_bytes_with_a_data_error(scratch, suffix, compressed):
    path = scratch / f"pairs{suffix}{'.gz' if compressed else ''}"
    target = scratch / "pairs.en"
    target.write_bytes(b"A man.\nTwo dogs.\n")

    @FUZZ
    @given(data=any_bytes(VALID_PAIRS[suffix]), gzip_intact=st.booleans())
    def check(data: bytes, gzip_intact: bool) -> None:
        if compressed and gzip_intact:
            data = gzip.compress(data)
        path.write_bytes(data)
        if suffix == ".de":
            _refused_cleanly(lambda: read_aligned(path, target))
            _refused_cleanly(lambda: read_corpus(path))
        else:
            _refused_cleanly(lambda: read_pairs(path))

    check()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)


@pytest.fixture(scope="module")
def bundle(scratch):
    texts, labels = make_corpus(60)
    return TextClassifier(**{**SMALL, "epochs": 1, "ngram_buckets": 64}).fit(texts, labels).save(scratch / "model")


BUNDLE_FILES = ["config.json", "vocab.json", "labels.json", "model.safetensors", "linear.safetensors", "history.json"]


@pytest.mark.parametrize("name", BUNDLE_FILES)
def test_bundle_loading_accepts_or_refuses_any_file_bytes_with_a_bundle_error(bundle, scratch, name):
    original = (bundle / name).read_bytes()
    broken = scratch / f"broken-{name}"
    shutil.copytree(bundle, broken)

    @FUZZ
    @given(data=any_bytes(original))
    def check(data: bytes) -> None:
        (broken / name).write_bytes(data)
        _refused_cleanly(lambda: load_model(broken))

    check()


@pytest.mark.parametrize("name", ["config.json", "vocab.json", "labels.json"])
def test_bundle_loading_refuses_any_json_value_in_any_field(bundle, scratch, name):
    """Well-formed JSON of the wrong shape: a value replaced anywhere, one level down or at the top."""
    original = json.loads((bundle / name).read_text())
    broken = scratch / f"json-{name}"
    shutil.copytree(bundle, broken)
    keys = list(original) if isinstance(original, dict) else list(range(len(original)))
    if name == "config.json":
        keys += [("params", k) for k in original["params"]]

    @FUZZ
    @given(key=st.sampled_from([None, *keys]), value=json_values)
    def check(key, value) -> None:
        data = json.loads(json.dumps(original))
        if key is None:
            data = value
        elif isinstance(key, tuple):
            data[key[0]][key[1]] = value
        else:
            data[key] = value
        (broken / name).write_text(json.dumps(data))
        _refused_cleanly(lambda: load_model(broken))

    check()


def test_vocab_from_json_refuses_any_value():
    @FUZZ
    @given(value=json_values)
    def check(value) -> None:
        _refused_cleanly(lambda: Vocab.from_json(value))

    check()


@pytest.fixture(scope="module")
def saved_checkpoint(scratch):
    texts, labels = make_corpus(60)
    where = scratch / "checkpoint"
    clf = TextClassifier(**{**SMALL, "epochs": 1, "ngram_buckets": 64})
    clf.fit(texts, labels, checkpoint_dir=where, checkpoint_every=0.0)
    return where, json.loads((where / checkpoint.META_FILE).read_text())["identity"], len(clf.vocab_)


@pytest.mark.parametrize("name", [checkpoint.META_FILE, checkpoint.STATE_FILE])
def test_checkpoint_loading_accepts_or_refuses_any_bytes_with_a_checkpoint_error(saved_checkpoint, scratch, name):
    where, identity, vocab_size = saved_checkpoint
    broken = scratch / f"broken-{name}"
    shutil.copytree(where, broken)
    original = (where / name).read_bytes()
    model = RNNClassifier(vocab_size, 2, hidden_size=16, embedding_dim=16, ngram_buckets=64)
    optimizer = torch.optim.Adam(model.parameter_groups(0.01))

    @FUZZ
    @given(data=any_bytes(original))
    def check(data: bytes) -> None:
        (broken / name).write_bytes(data)
        rng_state = torch.get_rng_state()
        target = checkpoint.Checkpoints(broken, None, identity)
        _refused_cleanly(lambda: checkpoint.resume(target, model, optimizer, None))
        torch.set_rng_state(rng_state)

    check()


def test_resuming_from_a_checkpoint_with_any_json_value_in_its_progress_ends_in_an_rnnkit_error(scratch):
    """Well-formed checkpoint.json whose progress or optimizer fields hold anything: training either
    resumes or refuses with an RnnkitError, however deep inside the loop the value is used."""
    texts, labels = make_corpus(60)
    params = {**SMALL, "epochs": 2, "ngram_buckets": 64}
    where = scratch / "checkpoint-to-alter"
    TextClassifier(**{**params, "epochs": 1}).fit(texts, labels, checkpoint_dir=where, checkpoint_every=0.0)
    meta = json.loads((where / checkpoint.META_FILE).read_text())
    meta["identity"]["params"]["epochs"] = 2  # saved by a one-epoch run, resumed by a two-epoch one
    fields = [("progress", k) for k in meta["progress"]] + [("optimizer", k) for k in meta["optimizer"]]
    altered = scratch / "checkpoint-altered"
    shutil.copytree(where, altered)

    @settings(max_examples=60, deadline=None)
    @given(field=st.sampled_from(fields), value=json_values)
    def check(field, value) -> None:
        data = json.loads(json.dumps(meta))
        data[field[0]][field[1]] = value
        (altered / checkpoint.META_FILE).write_text(json.dumps(data))
        rng_state = torch.get_rng_state()
        _refused_cleanly(lambda: TextClassifier(**params).fit(texts, labels, checkpoint_dir=altered, resume=True))
        torch.set_rng_state(rng_state)

    check()
