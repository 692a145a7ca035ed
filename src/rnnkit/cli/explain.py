"""``rnnkit explain MODEL TEXT``: which tokens pushed a text classifier's prediction, as a table, JSON,
a self-contained HTML page or a PNG strip."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rnnkit.errors import RnnkitError
from rnnkit.explain.render import to_html
from rnnkit.explain.text import explain, occlusion
from rnnkit.report.plots import token_strip
from rnnkit.store.atomic import write_bytes
from rnnkit.tasks import load_model
from rnnkit.tasks.classification.estimator import TextClassifier

METHODS = ("integrated-gradients", "occlusion")
SHOWN = 12  # tokens in the table, strongest first


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("explain", help="show which tokens pushed a text classifier's prediction")
    parser.add_argument("model", help="text classifier directory written by 'rnnkit train'")
    parser.add_argument("text", help="the text to explain")
    parser.add_argument(
        "--method",
        choices=METHODS,
        default="integrated-gradients",
        help="integrated gradients over the token vectors with the linear parts' exact shares (default), or "
        "occlusion: how much the margin falls when each token is left out",
    )
    parser.add_argument("--steps", type=int, default=64, help="integration points (default: 64)")
    parser.add_argument("--json", action="store_true", help="print the explanation as JSON")
    parser.add_argument("--html", metavar="FILE", help="write a self-contained HTML page of the text, shaded")
    parser.add_argument("--png", metavar="FILE", help="write a PNG strip of the tokens, shaded")


def run(args: argparse.Namespace) -> int:
    if args.steps < 1:
        raise RnnkitError(f"--steps must be at least 1; got {args.steps}")
    for flag, path, example in (("--html", args.html, "why.html"), ("--png", args.png, "why.png")):
        if path and Path(path).is_dir():
            raise RnnkitError(f"{path}: is a directory; {flag} needs a file name such as {example}")
    model = load_model(args.model)
    if not isinstance(model, TextClassifier):
        raise RnnkitError(f"{args.model}: explain needs a text classifier; this is a {type(model).__name__}")
    started = time.perf_counter()
    result = occlusion(model, args.text) if args.method == "occlusion" else explain(model, args.text, args.steps)
    result["seconds"] = round(time.perf_counter() - started, 3)
    if args.html:
        write_bytes(Path(args.html), to_html(args.text, result).encode("utf-8"))
    if args.png:
        tokens = [t["text"] for t in result["tokens"]]
        title = f"{result['label']} ({result['probability']:.3f}): {result['method'].replace('_', ' ')}"
        write_bytes(Path(args.png), token_strip(tokens, [t["score"] for t in result["tokens"]], title))
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return 0
    print(f"label: {result['label']} (probability {result['probability']:.4f})")
    difference, gap = result["logit_difference"], result["completeness_gap"]
    print(
        f"logit difference {difference:+.4f} = token scores {difference - gap:+.4f} + gap {gap:+.4f}  "
        f"({result['method'].replace('_', ' ')}, {result['seconds']:.2f}s)"
    )
    strongest = sorted(result["tokens"], key=lambda t: -abs(t["score"]))[:SHOWN]
    for token in strongest:
        print(f"{token['score']:+9.4f}  {token['text']}  [{token['start']}:{token['end']}]")
    return 0
