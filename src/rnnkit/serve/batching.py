"""Concurrent requests answered together: a short queue in front of one inference thread.

A request's instances become one job. The worker takes the oldest job, then every job waiting for
the same model and action while the batch stays under ``max_items`` instances and ``max_cost``
(characters or values), runs the model once on all of them in its own thread (never on the event
loop: the server keeps accepting and refusing while it computes), and hands each job its share.
One thread computes because PyTorch already uses every core given to it; two would fight for
them. A full queue refuses at once (:class:`QueueFull`, a 503 with ``Retry-After``), so a burst
meets a clear answer instead of a growing wait.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from dataclasses import dataclass, field


class QueueFull(Exception):
    """The queue holds ``max_jobs`` already."""


@dataclass
class Job:
    key: tuple[str, str]  # (model name, action)
    items: list
    cost: int
    run: Callable[[list], list]
    done: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    alone: bool = False  # a retry after its batch failed: run by itself


class Batcher:
    """The queue and its worker; :meth:`submit` awaits a job's results (or its exception)."""

    def __init__(self, max_jobs: int = 256, max_items: int = 64, max_cost: int = 200_000):
        self.max_jobs, self.max_items, self.max_cost = max_jobs, max_items, max_cost
        self.queue: asyncio.Queue[Job] | None = None
        self.executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="rnnkit-inference")
        self.worker: asyncio.Task | None = None
        self.batches = 0

    async def start(self) -> None:
        self.queue = asyncio.Queue(self.max_jobs)
        self.worker = asyncio.create_task(self._work())

    async def stop(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
        self.executor.shutdown(wait=True)

    async def submit(self, key: tuple[str, str], items: list, cost: int, run: Callable[[list], list]) -> list:
        job = Job(key, items, cost, run)
        try:
            self.queue.put_nowait(job)
        except asyncio.QueueFull:
            raise QueueFull from None
        return await job.done

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        held: list[Job] = []  # taken from the queue for another model or action: first next time
        while True:
            first = held.pop(0) if held else await self.queue.get()
            batch, items, cost = [first], len(first.items), first.cost
            while not first.alone and not self.queue.empty() and items < self.max_items and cost < self.max_cost:
                job = self.queue.get_nowait()
                if job.key != first.key or items + len(job.items) > self.max_items or cost + job.cost > self.max_cost:
                    held.append(job)
                    break
                batch.append(job)
                items, cost = items + len(job.items), cost + job.cost
            every = [item for job in batch for item in job.items]
            try:
                results = await loop.run_in_executor(self.executor, first.run, every)
            except Exception as exc:  # one job's failure must not fail the others
                if len(batch) == 1:
                    settle(first, exception=exc)
                else:  # alone, each job gets its own answer
                    held = batch + held
                    held[: len(batch)] = [Job(j.key, j.items, j.cost, j.run, j.done, alone=True) for j in batch]
                continue
            self.batches += 1
            start = 0
            for job in batch:
                settle(job, results[start : start + len(job.items)])
                start += len(job.items)


def settle(job: Job, results: list | None = None, exception: BaseException | None = None) -> None:
    """Hand ``job`` its results or exception, unless its client has gone (the future is done)."""
    if job.done.done():
        return
    if exception is not None:
        job.done.set_exception(exception)
    else:
        job.done.set_result(results)
