"""``MODEL_CARD.md``: what a bundle is, written when it is saved, from what the bundle knows.

A reader who finds a model directory should learn, without running anything: the task and the
network, the data it was trained on (files, sizes, label distribution, when the command line
trained it), every setting, the scores per split beside the baselines measured in the same run,
how long training took and on what machine and versions, and what the model is for and where it
stops being trustworthy. Everything comes from ``config.json``, ``metrics.json`` and the history;
nothing is invented, and what is not known is said to be so.
"""

from __future__ import annotations

import datetime
import os
import platform
import sys

import torch

from rnnkit import __version__

TASKS = {
    "classification": "text classification (a label per text)",
    "tagging": "sequence labelling (a tag per token)",
    "translation": "translation (a target sentence per source sentence)",
    "lm": "language modelling (next-token probabilities; text generation)",
    "forecast": "forecasting (the next steps of numeric series)",
}
# The figures worth a line per split, in this order, when a split reports them.
HEADLINE = ("n", "accuracy", "macro_f1", "f1", "bleu", "chrf", "nats_per_token", "perplexity", "mse", "mae")


def model_card(config: dict, history: list[dict], metrics: dict | None) -> str:
    """The Markdown text of the card."""
    metrics = metrics or {}
    task = describe_task(config)
    params = config.get("params", {})
    lines = [
        f"# Model card: {task}",
        "",
        f"Written by rnnkit {__version__} on {datetime.date.today().isoformat()}, when the model was saved.",
        "",
        "## Model",
        "",
        f"- Task: {task}; bundle format `{config.get('format')}` version {config.get('format_version')}.",
        f"- Network: {network(params)}.",
    ]
    for key in ("classes", "labels", "tags", "columns"):
        if isinstance(config.get(key), list):
            shown = ", ".join(map(str, config[key][:30])) + (", ..." if len(config[key]) > 30 else "")
            lines.append(f"- {key.capitalize()} ({len(config[key])}): {shown}.")
    lines += ["", "## Training data", "", *data_lines(metrics.get("data"))]
    lines += ["", "## Settings", "", "| setting | value |", "|---|---|"]
    lines += [f"| {name} | {value!r} |" for name, value in sorted(params.items())]
    lines += ["", "## Results", "", *result_lines(metrics)]
    lines += ["", "## Training", "", *training_lines(config, history, metrics)]
    lines += ["", "## Intended use and known limits", "", *limits(config)]
    return "\n".join(lines) + "\n"


def describe_task(config: dict) -> str:
    fmt = str(config.get("format", ""))
    if fmt == "rnnkit-series-classifier":
        return "classification of numeric series (a label per series)"
    return TASKS.get(str(config.get("task")), str(config.get("task", "unknown task")))


def network(params: dict) -> str:
    cell = str(params.get("cell", "?")).upper()
    direction = "bidirectional " if params.get("bidirectional") else ""
    layers = params.get("num_layers", 1)
    text = f"{direction}{cell}, {layers} layer(s) of {params.get('hidden_size', '?')} units"
    if params.get("pooling"):
        text += f", {params['pooling']} pooling"
    return text


def data_lines(data: dict | None) -> list[str]:
    """The files the command line trained on, with sizes and label counts; or that none are known."""
    if not data:
        return ["Given in Python (no files recorded); see the settings and the split sizes under Results."]
    lines = []
    for role, info in data.items():
        if not isinstance(info, dict):
            continue
        size = f", {info['bytes']:,} bytes" if isinstance(info.get("bytes"), int) else ""
        lines.append(f"- {role}: `{info.get('path')}`{size}")
        counts = info.get("label_counts")
        if isinstance(counts, dict) and counts:
            total = sum(counts.values())
            shares = ", ".join(f"{label} {n:,} ({n / total:.1%})" for label, n in counts.items())
            lines.append(f"  - {total:,} items; labels: {shares}")
    return lines or ["No files recorded."]


def result_lines(metrics: dict) -> list[str]:
    lines = []
    for split, report in metrics.items():
        if not isinstance(report, dict) or split in ("data", "blend"):
            continue
        figures = [f"{key} {format_value(report[key])}" for key in HEADLINE if key in report]
        if not figures:
            continue
        lines.append(f"- **{split}**: " + ", ".join(figures))
        for name, base in (report.get("baselines") or {}).items():
            shown = (
                base
                if not isinstance(base, dict)
                else ", ".join(f"{k} {format_value(v)}" for k, v in base.items() if k in HEADLINE)
            )
            lines.append(f"  - baseline {name}: {format_value(shown)}")
    return lines or ["No scores were recorded when the model was saved."]


def training_lines(config: dict, history: list[dict], metrics: dict) -> list[str]:
    seconds = config.get("train_seconds")
    took = f"{seconds / 60:.1f} minutes" if isinstance(seconds, (int, float)) else "not recorded"
    lines = [
        f"- {len(history)} epoch records; training took {took}.",
        f"- Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPU(s), "
        f"{torch.get_num_threads()} PyTorch thread(s), {platform.system()} {platform.release()}.",
        f"- Versions: rnnkit {__version__}, PyTorch {torch.__version__}, Python {sys.version.split()[0]}.",
    ]
    setup = metrics.get("distributed")
    if isinstance(setup, dict):
        lines.append(
            f"- Distributed over {setup.get('processes')} processes ({setup.get('backend')}): each step's batch of "
            f"{setup.get('batch_size')} items was shared among them, at learning rate {setup.get('lr')}."
        )
    return lines


def limits(config: dict) -> list[str]:
    """What the model is for and where it stops, from its settings."""
    params = config.get("params", {})
    task = config.get("task")
    out = [
        "- For data like the training data: same language, domain, label set and conventions. Scores on "
        "other data may be much lower; measure them (`rnnkit evaluate`) before relying on the model.",
        "- Not for decisions about people without human review: the model learns the patterns, and the "
        "biases, of its training data.",
    ]
    if params.get("max_length"):
        out.append(f"- Texts are cut to {params['max_length']} tokens ({params.get('truncating', 'pre')}-truncated).")
    if params.get("tokenizer"):
        case = "lowercased" if params.get("lowercase") else "case kept"
        out.append(f"- Tokens: {params['tokenizer']}-level, {case}; unseen tokens read as unknown.")
    if task == "forecast":
        out.append(
            f"- Forecasts {params.get('horizon')} steps from the last {params.get('lookback')}; the series must "
            "keep the training columns and time step."
        )
    if task == "translation":
        out.append("- Translates one sentence at a time in the training direction; long sentences degrade.")
    if task == "lm":
        out.append("- Generates text in the style of its corpus; it does not know facts and may repeat itself.")
    return out


def format_value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)
