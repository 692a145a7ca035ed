"""The language model's side of ``rnnkit train | evaluate | predict | generate``."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rnnkit.cli.run import data_files, fit_options, prepare, reports, write_output
from rnnkit.data.parallel import read_corpus
from rnnkit.data.tables import read_texts
from rnnkit.errors import DataError
from rnnkit.tasks.language_model.estimator import LanguageModel, held_out
from rnnkit.train import checkpoint


def train(args: argparse.Namespace, params: dict) -> int:
    lm = LanguageModel(**params)
    checkpoint_dir = prepare(args, params)
    say = (lambda *_: None) if args.quiet else print
    text = read_corpus(args.data, args.encoding)
    val = read_corpus(args.val, args.encoding) if args.val else None
    test = read_corpus(args.test, args.encoding) if args.test else None
    say(
        f"data: {len(text):,} characters"
        + (f", validation {len(val):,}" if val else "")
        + (f", test {len(test):,}" if test else "")
    )
    started = time.perf_counter()
    lm.fit(text, validation_data=val, **fit_options(args, checkpoint_dir))
    if not reports():  # the other processes of a distributed run only train
        return 0
    if val is None:  # the held-out end of the training text, as fit split it
        val = held_out(text, params["val_fraction"])[1]
    metrics = {"validation": lm.report(val)}
    if test:
        metrics["test"] = lm.report(test)
    metrics["train_seconds"] = round(lm.train_seconds_, 2)
    metrics["epochs"] = len(lm.history_)
    metrics["best_epoch"] = min(lm.history_, key=lambda r: r["val_loss"])["epoch"]
    for split in ("validation", "test"):
        if split in metrics:
            print(f"{split}: {_headline(metrics[split])}")
    metrics["data"] = data_files(args)
    out = lm.save(args.out, metrics)
    checkpoint.remove(checkpoint_dir)
    sample = lm.generate(length=200, temperature=0.8, seed=0)
    print(f"sample (temperature 0.8):\n{sample}\n")
    print(f"trained {metrics['epochs']} epochs in {time.perf_counter() - started:.0f}s\nmodel saved to {out}/")
    return 0


def _headline(report: dict) -> str:
    text = f"loss {report['loss']:.4f} nats per token, perplexity {report['perplexity']:.2f}"
    if "bits_per_char" in report:
        text += f", {report['bits_per_char']:.4f} bits per character"
    return text + f" ({report['n']:,} tokens)"


def evaluate(args: argparse.Namespace, lm: LanguageModel) -> int:
    report = lm.report(read_corpus(args.data, args.encoding))
    print(json.dumps(report, indent=2) if args.json else f"{args.data}: {_headline(report)}")
    return 0


def predict(args: argparse.Namespace, lm: LanguageModel) -> int:
    """Continue each text (prompt) given, or each line of ``--input``."""
    if args.format not in (None, "text", "json"):
        raise DataError(f"--format {args.format} is not for language models; they write text or json")
    prompts = read_texts(Path(args.input), args.text_column, args.encoding) if args.input else args.texts
    outputs = [lm.generate(prompt, args.length, args.temperature, args.top_k, args.seed) for prompt in prompts]
    if args.format == "json" or (args.output or "").lower().endswith(".json"):
        records = [{"prompt": p, "text": t} for p, t in zip(prompts, outputs, strict=True)]
        return write_output(args, json.dumps(records, indent=2, ensure_ascii=False) + "\n")
    return write_output(args, "\n\n".join(outputs) + "\n")


def generate(args: argparse.Namespace, lm: LanguageModel) -> int:
    """``rnnkit generate MODEL --prompt ...``: one continuation on stdout."""
    text = lm.generate(args.prompt, args.length, args.temperature, args.top_k, args.seed)
    return write_output(args, text + "\n")
