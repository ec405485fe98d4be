"""Where page tasks run: in this process, or in a pool of worker processes (Celery later)."""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Protocol, TypeVar

from migrate.external import tesseract

T = TypeVar("T")
R = TypeVar("R")


class Executor(Protocol):
    def run(
        self, fn: Callable[[T], R], items: Iterable[T], follow_up: Callable[[R], Iterable[T]] | None = None
    ) -> Iterator[R]:
        """Results as they complete. Items are pulled lazily so memory stays bounded; each result
        may produce follow-up items (a document's last page -> its finishing task), run first."""
        ...

    def close(self) -> None: ...


class SerialExecutor:
    def __init__(self) -> None:
        tesseract.single_threaded()

    def run(
        self, fn: Callable[[T], R], items: Iterable[T], follow_up: Callable[[R], Iterable[T]] | None = None
    ) -> Iterator[R]:
        queue: deque[T] = deque()
        source = iter(items)
        while True:
            if queue:
                item = queue.popleft()
            else:
                try:
                    item = next(source)
                except StopIteration:
                    return
            result = fn(item)
            yield result
            if follow_up is not None:
                queue.extend(follow_up(result))

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

    def run(
        self, fn: Callable[[T], R], items: Iterable[T], follow_up: Callable[[R], Iterable[T]] | None = None
    ) -> Iterator[R]:
        pending: set[Future[R]] = set()
        queue: deque[T] = deque()
        source = iter(items)
        window = self.workers * 2
        exhausted = False
        while True:
            while len(pending) < window:
                if queue:
                    item = queue.popleft()
                elif not exhausted:
                    try:
                        item = next(source)
                    except StopIteration:
                        exhausted = True
                        continue
                else:
                    break
                pending.add(self._pool.submit(fn, item))
            if not pending:
                return
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                result = fut.result()
                yield result
                if follow_up is not None:
                    queue.extend(follow_up(result))

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def make_executor(workers: int) -> Executor:
    return SerialExecutor() if workers <= 1 else PoolExecutor(workers)
