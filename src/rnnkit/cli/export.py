"""``rnnkit export MODEL --format onnx --out model.onnx``: a classifier or tagger for ONNX Runtime
(see :mod:`rnnkit.export`), checked there against rnnkit before the command reports success."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from rnnkit.errors import RnnkitError
from rnnkit.tasks import load_model

FORMATS = ("onnx",)


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("export", help="export a classifier or tagger as an ONNX model")
    parser.add_argument("model", help="model directory written by 'rnnkit train'")
    parser.add_argument("--format", choices=FORMATS, default="onnx", help="the format (default: onnx)")
    parser.add_argument(
        "--out", required=True, help="the model file to write (vocab.json, labels.json ... go beside it)"
    )


def run(args: argparse.Namespace) -> int:
    missing = [name for name in ("onnx", "onnxruntime") if importlib.util.find_spec(name) is None]
    if missing:
        raise RnnkitError(f"export needs {' and '.join(missing)}: pip install 'rnnkit[export]'")
    out = Path(args.out)
    if out.is_dir():
        raise RnnkitError(f"{out}: is a directory; --out needs a file name such as model.onnx")
    if not out.parent.is_dir():
        raise RnnkitError(f"{out.parent}: no such directory")
    model = load_model(args.model)
    from rnnkit.export.write import export_onnx  # imports onnx, which only export needs

    result = export_onnx(model, out)
    checked = result["check"]
    print(f"wrote {out} ({result['bytes'] / 1e6:.1f} MB) and beside it {', '.join(result['files'])}")
    lengths = checked["lengths"]
    line = (
        f"checked in onnxruntime {checked['onnxruntime']} on {checked['inputs']} held-out inputs of "
        f"{min(lengths)}-{max(lengths)} tokens: largest difference from rnnkit {checked['max_abs_difference']:.2e}"
    )
    if "tags_differing" in checked:
        line += f" in emissions; decoded tags differing: {checked['tags_differing']} of {checked['tokens']}"
    else:
        line += " in probabilities"
    print(line)
    return 0
