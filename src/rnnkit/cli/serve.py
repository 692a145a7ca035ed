"""``rnnkit serve MODEL [MODEL ...]``: the bundles over HTTP (see :mod:`rnnkit.serve.app`), on uvicorn."""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import sys
from pathlib import Path

import torch

from rnnkit.errors import RnnkitError
from rnnkit.tasks import load_model

LOOPBACK = "127.0.0.1"


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("serve", help="serve models over HTTP (KServe v1, MLflow, a web page)")
    parser.add_argument("models", nargs="+", metavar="MODEL", help="model directories written by 'rnnkit train'")
    parser.add_argument("--name", help="the name of the (single) model in URLs (default: its directory's name)")
    parser.add_argument(
        "--host",
        default=LOOPBACK,
        help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 serves every network)",
    )
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    parser.add_argument(
        "--max-request-bytes", type=int, default=1 << 20, help="refuse larger bodies with 413 (default: 1 MiB)"
    )
    parser.add_argument("--max-instances", type=int, default=256, help="instances a request may hold (default: 256)")
    parser.add_argument("--max-batch", type=int, default=64, help="instances computed together at most (default: 64)")
    parser.add_argument("--queue", type=int, default=256, help="requests waiting at most; more get 503 (default: 256)")
    parser.add_argument("--threads", type=int, help="PyTorch threads (default: the cores this process may use)")
    parser.add_argument(
        "--body-timeout", type=float, default=10.0, help="seconds a request's body may take to arrive; then 408"
    )


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from rnnkit.serve.app import Settings, create_app
        from rnnkit.serve.models import served
    except ImportError as exc:
        raise RnnkitError(
            f"rnnkit serve needs its extra ({exc.name} is missing): pip install 'rnnkit[serve]'"
        ) from None
    if not args.body_timeout > 0:
        raise RnnkitError(f"--body-timeout must be a positive number of seconds; got {args.body_timeout}")
    for flag, value in (
        ("--max-request-bytes", args.max_request_bytes),
        ("--max-instances", args.max_instances),
        ("--max-batch", args.max_batch),
        ("--queue", args.queue),
        ("--threads", args.threads or 1),
    ):
        if value < 1:
            raise RnnkitError(f"{flag} must be at least 1; got {value}")
    if args.name and len(args.models) > 1:
        raise RnnkitError("--name names a single model; with several, each is named by its directory")
    names = [args.name] if args.name else [Path(m).resolve().name for m in args.models]
    if len(set(names)) != len(names):
        raise RnnkitError(
            f"two models would share a name ({', '.join(names)}); serve them from differently named directories"
        )
    check_port(args.host, args.port)
    torch.set_num_threads(args.threads or len(os.sched_getaffinity(0)))
    models = [served(name, load_model(path)) for name, path in zip(names, args.models, strict=True)]
    if not is_loopback(args.host):
        print(f"rnnkit: serving on {args.host}: reachable from other machines", file=sys.stderr)
    settings = Settings(
        args.max_request_bytes,
        args.max_instances,
        args.body_timeout,
        max_queue=args.queue,
        max_batch_items=args.max_batch,
    )
    app = create_app(models, settings)
    print(f"serving {', '.join(names)} on http://{args.host}:{args.port}/ (Ctrl-C stops)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_keep_alive=5)
    return 0


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def check_port(host: str, port: int) -> None:
    """Refuse a port that is taken (or not ours to take) now, in one line, before models load."""
    if not 0 < port < 65536:
        raise RnnkitError(f"--port must be from 1 to 65535; got {port}")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise RnnkitError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
