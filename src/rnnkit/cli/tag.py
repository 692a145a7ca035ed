"""The tagger's side of ``rnnkit train | evaluate | predict``."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rnnkit.cli.run import data_files, fit_options, prepare, reports, write_output
from rnnkit.data.conll import TaggedSentences, read_tagged, tagged_format
from rnnkit.data.tables import read_texts
from rnnkit.errors import DataError
from rnnkit.tasks.params import validate_params
from rnnkit.tasks.tagging.estimator import SequenceTagger
from rnnkit.tasks.tagging.metrics import format_tagging_report
from rnnkit.text.pipeline import token_spans
from rnnkit.train import checkpoint
from rnnkit.train.loop import validation_score


def read(args: argparse.Namespace, path: str) -> TaggedSentences:
    return read_tagged(path, args.data_format, args.token_column, args.tag_column, args.encoding)


def train(args: argparse.Namespace, params: dict) -> int:
    tagger = SequenceTagger(**params)
    validate_params(params, tagger.monitors)
    if params["embeddings"] is not None and not Path(params["embeddings"]).is_file():
        raise DataError(f"{params['embeddings']}: no such word-vector file")
    checkpoint_dir = prepare(args, params)
    say = (lambda *_: None) if args.quiet else print
    data = read(args, args.data)
    test = read(args, args.test) if args.test else None
    tokens, tags = data.tokens, data.tags
    if args.val:
        val = read(args, args.val)
    else:  # the file's last sentences: see SequenceTagger.fit
        cut = len(tokens) - round(len(tokens) * params["val_fraction"])
        tokens, tags, val = tokens[:cut], tags[:cut], TaggedSentences(tokens[cut:], tags[cut:])
    say(f"data: {len(tokens)} training sentences, {len(val)} validation" + (f", {len(test)} test" if test else ""))
    started = time.perf_counter()
    tagger.fit(tokens, tags, validation_data=(val.tokens, val.tags), **fit_options(args, checkpoint_dir))
    if not reports():  # the other processes of a distributed run only train
        return 0
    metrics = {}
    if len(val):
        metrics["validation"] = tagger.report(val.tokens, val.tags)
    if test:
        metrics["test"] = tagger.report(test.tokens, test.tags)
    metrics["train_seconds"] = round(tagger.train_seconds_, 2)
    metrics["epochs"] = len(tagger.history_)  # of all members together
    runs: dict[int, list[dict]] = {}
    for record in tagger.history_:
        runs.setdefault(record.get("member", 1), []).append(record)
    monitor = tagger.params_["monitor"] or ("f1" if tagger.scheme_ != "plain" else "accuracy")
    kept = [max(h, key=lambda r: validation_score(r, monitor))["epoch"] if len(val) else len(h) for h in runs.values()]
    if len(runs) == 1 and len(val):
        metrics["best_epoch"] = kept[0]
    elif len(runs) > 1:
        metrics["members"] = [{"epochs": len(h), "kept_epoch": k} for h, k in zip(runs.values(), kept, strict=True)]
    for split in ("validation", "test"):
        if split in metrics:
            print(format_tagging_report(split, metrics[split]), end="\n\n")
    metrics["data"] = data_files(args)
    out = tagger.save(args.out, metrics)
    checkpoint.remove(checkpoint_dir)
    summary = f"trained {metrics['epochs']} epochs in {time.perf_counter() - started:.0f}s"
    if test:
        summary += f"; test {_headline(metrics['test'])}"
    print(f"{summary}\nmodel saved to {out}/")
    return 0


def _headline(report: dict) -> str:
    if "f1" in report:
        return f"entity F1 {report['f1']:.4f}, token accuracy {report['token_accuracy']:.4f}"
    return f"token accuracy {report['token_accuracy']:.4f}"


def evaluate(args: argparse.Namespace, tagger: SequenceTagger) -> int:
    data = read(args, args.data)
    report = tagger.report(data.tokens, data.tags)
    print(json.dumps(report, indent=2) if args.json else format_tagging_report(str(args.data), report))
    return 0


def predict(args: argparse.Namespace, tagger: SequenceTagger) -> int:
    """Tag raw texts (split as the tokenizer of training corpora would) or the tokens of a tagged file."""
    if args.format == "csv":
        raise DataError("--format csv is for classifiers; a tagger writes text, conll or json")
    if args.input and (args.data_format or tagged_format(Path(args.input))):
        token_lists = read(args, args.input).tokens
        texts = [" ".join(tokens) for tokens in token_lists]
        spans = [_spans_of(tokens) for tokens in token_lists]
    else:
        texts = read_texts(Path(args.input), args.text_column, args.encoding) if args.input else args.texts
        spans = [token_spans(text) for text in texts]
    tags, entities = tagger.tag_spans(texts, spans)
    entities = entities or [None] * len(texts)
    fmt = args.format or ("json" if args.output and args.output.lower().endswith(".json") else "text")
    rows = zip(texts, spans, tags, entities, strict=True)
    if fmt == "json":
        records = [
            {"text": text, "tokens": [t for t, _, _ in spanned], "tags": sentence_tags}
            | ({"entities": found} if found is not None else {})
            for text, spanned, sentence_tags, found in rows
        ]
        return write_output(args, json.dumps(records, indent=2, ensure_ascii=False) + "\n")
    if fmt == "conll":
        blocks = ["".join(f"{t}\t{tag}\n" for (t, _, _), tag in zip(s, g, strict=True)) for _, s, g, _ in rows]
        return write_output(args, "\n".join(blocks))
    lines = []
    for _, spanned, sentence_tags, found in rows:
        lines.append(" ".join(f"{t}/{tag}" for (t, _, _), tag in zip(spanned, sentence_tags, strict=True)))
        lines += [f"  {e['text']}\t{e['label']}\t{e['start']}-{e['end']}\t{e['score']:.2f}" for e in found or ()]
    return write_output(args, "".join(line + "\n" for line in lines))


def _spans_of(tokens: list[str]) -> list[tuple[str, int, int]]:
    """Offsets of tokens in the text made by joining them with single spaces."""
    spans, start = [], 0
    for token in tokens:
        spans.append((token, start, start + len(token)))
        start += len(token) + 1
    return spans
