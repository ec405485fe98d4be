"""Where page tasks run: in this process, or in a pool of worker processes (Celery later)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Protocol, TypeVar

from migrate.external import tesseract

T = TypeVar("T")
R = TypeVar("R")


class Executor(Protocol):
    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """Results as they complete; items are pulled lazily so memory stays bounded and the
        caller may still be producing them (a batch takes files in while pages are OCR'd)."""
        ...

    def close(self) -> None: ...


class SerialExecutor:
    def __init__(self) -> None:
        tesseract.single_threaded()

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        for item in items:
            yield fn(item)

    def close(self) -> None:
        pass


def _init_worker() -> None:
    tesseract.single_threaded()


class PoolExecutor:
    """N worker processes, each running one task at a time with single-threaded Tesseract."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        ctx = multiprocessing.get_context("forkserver")
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker)

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        pending: set[Future[R]] = set()
        source = iter(items)
        window = self.workers * 2
        exhausted = False
        while True:
            while not exhausted and len(pending) < window:
                try:
                    pending.add(self._pool.submit(fn, next(source)))
                except StopIteration:
                    exhausted = True
            if not pending:
                return
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                yield fut.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def make_executor(workers: int) -> Executor:
    return SerialExecutor() if workers <= 1 else PoolExecutor(workers)
