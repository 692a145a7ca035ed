"""The HTTP face of one or more bundles: KServe v1 / TensorFlow Serving and MLflow requests, a page,
health, readiness and Prometheus metrics (Starlette).

* ``POST /v1/models/NAME:predict`` ``{"instances": [...]}`` -> ``{"predictions": [...]}``;
  ``:explain`` adds each text classifier prediction's ``"explanation"``.
* ``POST /invocations`` (MLflow; the first model) ``{"inputs": [...]}`` (or one column,
  ``{"inputs": {"NAME": [...]}}``), ``{"dataframe_split": {"columns", "data"}}`` or
  ``{"dataframe_records": [...]}`` (one column: the instances) -> ``{"predictions": [...]}``.
* ``GET /v1/models/NAME`` ``{"name", "ready", "kind"}``; ``GET /v1/models``; ``GET /health``
  (alive); ``GET /ready`` (200 once every model is loaded and has answered a warm-up request, 503
  before); ``GET /metrics``; ``GET /`` the page.

Every error is ``{"error": "..."}`` with its status: 400 bad JSON, encoding or shape, 404 unknown
model or path, 405 wrong method, 408 a body not sent in time, 413 a body over ``max_request_bytes``
or more than ``max_instances`` instances, 415 not JSON, 503 queue full (``Retry-After``) or not
ready, 500 anything else (logged, never shown).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from importlib import resources
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from rnnkit.errors import RnnkitError
from rnnkit.serve.batching import Batcher, QueueFull
from rnnkit.serve.models import RequestError, Served, check_instance

log = logging.getLogger("rnnkit.serve")


class Settings:
    """Limits of one server."""

    def __init__(
        self,
        max_request_bytes: int = 1 << 20,
        max_instances: int = 256,
        body_timeout: float = 10.0,
        max_queue: int = 256,
        max_batch_items: int = 64,
    ):
        self.max_request_bytes, self.max_instances = max_request_bytes, max_instances
        self.body_timeout, self.max_queue, self.max_batch_items = body_timeout, max_queue, max_batch_items


def error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def create_app(models: list[Served], settings: Settings | None = None) -> Starlette:
    """The ASGI app serving ``models`` (their names must differ)."""
    settings = settings or Settings()
    by_name = {m.name: m for m in models}
    batcher = Batcher(settings.max_queue, settings.max_batch_items)
    state = {"ready": False}
    registry = CollectorRegistry()
    requests = Counter("rnnkit_requests", "HTTP requests answered", ["endpoint", "status"], registry=registry)
    latency = Histogram(
        "rnnkit_request_seconds",
        "Time to answer a prediction request",
        ["endpoint"],
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        registry=registry,
    )
    instances_total = Counter("rnnkit_instances", "Instances predicted", ["model"], registry=registry)

    async def read_json(request: Request) -> Any:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            raise RequestError("send JSON with Content-Type: application/json", 415)
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > settings.max_request_bytes:
            raise RequestError(f"the body is over the limit of {settings.max_request_bytes:,} bytes", 413)
        body = bytearray()

        async def receive() -> None:
            async for chunk in request.stream():
                body.extend(chunk)
                if len(body) > settings.max_request_bytes:
                    raise RequestError(f"the body is over the limit of {settings.max_request_bytes:,} bytes", 413)

        try:
            await asyncio.wait_for(receive(), settings.body_timeout)
        except TimeoutError:
            raise RequestError(f"the body did not arrive within {settings.body_timeout:g} s", 408) from None
        try:
            return json.loads(bytes(body).decode("utf-8"))
        except UnicodeDecodeError:
            raise RequestError("the body is not UTF-8") from None
        except json.JSONDecodeError as exc:
            raise RequestError(
                f"the body is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
            ) from None
        except RecursionError:
            raise RequestError("the body nests too deeply") from None

    async def answer(model: Served, action: str, instances: Any) -> list[dict]:
        if not isinstance(instances, list) or not instances:
            raise RequestError("instances must be a non-empty list")
        if len(instances) > settings.max_instances:
            raise RequestError(f"at most {settings.max_instances} instances a request; got {len(instances):,}", 413)
        if action == "explain" and model.explain is None:
            raise RequestError(f"{model.name} is a {model.kind}; explanations are for text classifiers")
        items = [check_instance(model, instance) for instance in instances]
        run = model.explain if action == "explain" else model.predict
        try:
            results = await batcher.submit((model.name, action), items, sum(map(model.cost, items)), run)
        except QueueFull:
            raise RequestError("the server is busy; retry shortly", 503) from None
        except RnnkitError as exc:  # what the model itself refuses in an instance
            raise RequestError(str(exc)) from None
        instances_total.labels(model.name).inc(len(items))
        return results

    async def timed(endpoint: str, handle) -> Response:
        started = time.perf_counter()
        try:
            response = await handle()
        except RequestError as exc:
            headers = {"Retry-After": "1"} if exc.status == 503 else None
            response = error(exc.status, str(exc), headers)
        except ClientDisconnect:
            response = error(400, "the client closed the connection")
        except Exception:
            log.exception("internal error on %s", endpoint)
            response = error(500, "internal error")
        requests.labels(endpoint, str(response.status_code)).inc()
        latency.labels(endpoint).observe(time.perf_counter() - started)
        return response

    def find(name: str) -> Served:
        if name not in by_name:
            raise RequestError(f"no model named {name!r}; this server has {', '.join(by_name)}", 404)
        return by_name[name]

    async def model_action(request: Request) -> Response:
        target = request.path_params["target"]

        async def handle() -> Response:
            name, _, action = target.partition(":")
            if action not in ("predict", "explain"):
                raise RequestError(f"unknown action {action!r}; use NAME:predict or NAME:explain", 404)
            model = find(name)
            payload = await read_json(request)
            if not isinstance(payload, dict) or "instances" not in payload:
                raise RequestError('the body must be an object {"instances": [...]}')
            return JSONResponse({"predictions": await answer(model, action, payload["instances"])})

        return await timed("kserve", handle)

    async def invocations(request: Request) -> Response:
        async def handle() -> Response:
            payload = await read_json(request)
            return JSONResponse({"predictions": await answer(models[0], "predict", mlflow_instances(payload))})

        return await timed("invocations", handle)

    async def model_status(request: Request) -> Response:
        async def handle() -> Response:
            model = find(request.path_params["target"])
            return JSONResponse({"name": model.name, "ready": state["ready"], "kind": model.kind})

        return await timed("status", handle)

    async def model_list(request: Request) -> Response:
        return JSONResponse({"models": [{"name": m.name, "kind": m.kind, "ready": state["ready"]} for m in models]})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def ready(request: Request) -> Response:
        if not state["ready"]:
            return error(503, "warming up")
        return JSONResponse({"status": "ready"})

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    async def page(request: Request) -> Response:
        html = resources.files("rnnkit.serve").joinpath("page.html").read_text(encoding="utf-8")
        names = json.dumps([{"name": m.name, "kind": m.kind} for m in models])
        return HTMLResponse(html.replace("__MODELS__", names.replace("<", "\\u003c")))

    async def not_found(request: Request, exc: HTTPException) -> Response:
        return error(exc.status_code, exc.detail if isinstance(exc.detail, str) else "error")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        await batcher.start()
        for model in models:  # the first request of each model builds what it compiles lazily
            await batcher.submit((model.name, "predict"), [model.parse(model.example)], 1, model.predict)
        state["ready"] = True
        yield
        await batcher.stop()

    routes = [
        Route("/", page, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/invocations", invocations, methods=["POST"]),
        Route("/v1/models", model_list, methods=["GET"]),
        Route("/v1/models/{target:path}", model_action, methods=["POST"]),
        Route("/v1/models/{target:path}", model_status, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: not_found})
    app.state.batcher = batcher
    return app


def mlflow_instances(payload: Any) -> list:
    """The instances of an MLflow scoring request (one input column)."""
    if (
        not isinstance(payload, dict)
        or len(payload.keys() & {"inputs", "instances", "dataframe_split", "dataframe_records"}) != 1
    ):
        raise RequestError('the body must hold one of "inputs", "instances", "dataframe_split" or "dataframe_records"')
    if "inputs" in payload or "instances" in payload:
        inputs = payload.get("inputs", payload.get("instances"))
        if isinstance(inputs, dict):  # MLflow's columnar form: {"inputs": {"text": [...]}}
            if len(inputs) != 1 or not isinstance(next(iter(inputs.values())), list):
                raise RequestError('columnar inputs must be one column: {"inputs": {"NAME": [...]}}')
            return next(iter(inputs.values()))
        return inputs
    if "dataframe_split" in payload:
        split = payload["dataframe_split"]
        if not isinstance(split, dict) or not isinstance(split.get("data"), list):
            raise RequestError('dataframe_split must be {"columns": [...], "data": [[...], ...]}')
        rows = split["data"]
        if not all(isinstance(row, list) and len(row) == 1 for row in rows):
            raise RequestError("dataframe_split rows must hold one value each (the model reads one column)")
        return [row[0] for row in rows]
    records = payload["dataframe_records"]
    if not isinstance(records, list) or not all(isinstance(r, dict) and len(r) == 1 for r in records):
        raise RequestError("dataframe_records must be a list of objects of one column each")
    return [next(iter(r.values())) for r in records]
