"""The translator's side of ``rnnkit train | evaluate | predict``."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rnnkit.cli.run import data_files, fit_options, prepare, reports, write_output
from rnnkit.data.parallel import ParallelTexts, read_aligned, read_pairs
from rnnkit.data.tables import read_texts
from rnnkit.errors import DataError
from rnnkit.store.atomic import write_bytes
from rnnkit.tasks.translation.estimator import Translator
from rnnkit.train import checkpoint


def read(args: argparse.Namespace, data: str | None, source: str | None, target: list[str] | None) -> ParallelTexts:
    """Pairs from two line-aligned files, or from one CSV/TSV/JSONL table with source and target columns."""
    if target and len(target) > 1:
        raise DataError("give one --target file (the translations of --source)")
    target = target[0] if target else None
    if source or target:
        if not (source and target):
            raise DataError("give both files of the pairs: --source FILE and --target FILE (line-aligned)")
        return read_aligned(source, target, args.encoding)
    if data is None:
        raise DataError("translation needs pairs: --source FILE --target FILE, or a CSV/TSV/JSONL file of pairs")
    return read_pairs(data, args.source_column, args.target_column, args.encoding)


def train(args: argparse.Namespace, params: dict) -> int:
    translator = Translator(**params)
    checkpoint_dir = prepare(args, params)
    pairs = read(args, args.data, args.source, args.target)
    if args.val_source or args.val_target:
        val = read(args, None, args.val_source, [args.val_target] if args.val_target else None)
    else:  # the last pairs: see Translator.fit
        cut = len(pairs) - round(len(pairs) * params["val_fraction"])
        pairs, val = (
            ParallelTexts(pairs.sources[:cut], pairs.targets[:cut]),
            ParallelTexts(pairs.sources[cut:], pairs.targets[cut:]),
        )
    if not args.quiet:
        print(f"data: {len(pairs):,} training pairs, {len(val):,} validation")
    started = time.perf_counter()
    translator.fit(
        pairs.sources, pairs.targets, validation_data=(val.sources, val.targets), **fit_options(args, checkpoint_dir)
    )
    if not reports():  # the other processes of a distributed run only train
        return 0
    report = translator.report(val.sources, val.targets)
    metrics = {"validation": {k: v for k, v in report.items() if k != "hypotheses"}}
    metrics["train_seconds"] = round(translator.train_seconds_, 2)
    metrics["epochs"] = len(translator.history_)
    print(f"validation ({len(val)} pairs, beam {params['beam']}): {_headline(metrics['validation'])}")
    metrics["data"] = data_files(args)
    out = translator.save(args.out, metrics)
    checkpoint.remove(checkpoint_dir)
    print(f"trained {metrics['epochs']} epochs in {time.perf_counter() - started:.0f}s\nmodel saved to {out}/")
    return 0


def _headline(report: dict) -> str:
    return (
        f"BLEU {report['bleu']:.2f}, chrF {report['chrf']:.2f}, lowercased BLEU {report['bleu_lowercase']:.2f}\n"
        f"  {report['signatures']['bleu']}"
    )


def evaluate(args: argparse.Namespace, translator: Translator) -> int:
    pairs = read(args, args.data, args.source, args.target)
    report = translator.report(pairs.sources, pairs.targets, args.beam)
    if args.output:  # the hypotheses, one per line, beside the scores
        write_bytes(Path(args.output), "".join(h + "\n" for h in report.pop("hypotheses")).encode("utf-8"))
    else:
        report.pop("hypotheses")
    print(json.dumps(report, indent=2) if args.json else f"{len(pairs)} pairs: {_headline(report)}")
    return 0


def predict(args: argparse.Namespace, translator: Translator) -> int:
    """Translate each text given, or each line of ``--input``."""
    if args.format not in (None, "text", "json"):
        raise DataError(f"--format {args.format} is not for translators; they write text or json")
    sentences = read_texts(Path(args.input), args.text_column, args.encoding) if args.input else args.texts
    translations = translator.translate(sentences, args.beam)
    if args.format == "json" or (args.output or "").lower().endswith(".json"):
        records = [{"source": s, "translation": t} for s, t in zip(sentences, translations, strict=True)]
        return write_output(args, json.dumps(records, indent=2, ensure_ascii=False) + "\n")
    return write_output(args, "".join(t + "\n" for t in translations))
