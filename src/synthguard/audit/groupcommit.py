"""Group commit: many callers' appends in one transaction, each caller returning only
once the transaction holding its items has committed.

Leader/follower, no resident thread. A synchronous caller that finds no commit running
becomes the leader: it takes everything queued (up to `max_items`), commits it, wakes
the others, and keeps going while work is queued unless a waiting synchronous caller
can take over. An asynchronous caller (`submit_async`, for the gateway's event loop)
waits on a future instead of holding a thread; if no leader runs, it starts one in the
loop's executor. Under no load a caller commits alone, at once; under load one fsync
serves a whole batch. A failed commit fails every caller in that batch and nobody else.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(eq=False)
class _Request(Generic[Item, Result]):
    items: Sequence[Item]
    done: bool = False
    results: list[Result] = field(default_factory=list)
    error: BaseException | None = None
    future: asyncio.Future[list[Result]] | None = None


class GroupCommit(Generic[Item, Result]):
    def __init__(self, commit: Callable[[list[Item]], list[Result]], *,
                 max_items: int = 1000) -> None:
        """`commit` writes and commits a batch in one transaction and returns one result
        per item, in order; it is only ever called by one thread at a time."""
        self._commit = commit
        self._max_items = max_items
        self._cond = threading.Condition()
        self._queue: deque[_Request[Item, Result]] = deque()
        self._leading = False
        self._drains: set[asyncio.Future[None]] = set()
        self.batches = 0  # commits done: lets tests and the bench see the grouping

    def submit(self, items: Sequence[Item]) -> list[Result]:
        """Append `items` (kept together and in order); returns once committed."""
        request: _Request[Item, Result] = _Request(items)
        with self._cond:
            self._queue.append(request)
            while not request.done:
                if self._leading:
                    self._cond.wait()
                else:
                    self._leading = True
                    self._lead(request)
        if request.error is not None:
            raise request.error
        return request.results

    async def submit_async(self, items: Sequence[Item]) -> list[Result]:
        """`submit` for event loops: waits without holding a thread."""
        loop = asyncio.get_running_loop()
        request: _Request[Item, Result] = _Request(items, future=loop.create_future())
        assert request.future is not None
        with self._cond:
            self._queue.append(request)
            start = not self._leading
            self._leading = True
        if start:
            drain = loop.run_in_executor(None, self._drain)
            self._drains.add(drain)  # keep a reference until it finishes
            drain.add_done_callback(self._drains.discard)
        # Shielded: a cancelled request (client gone) still gets committed; only the
        # wait is abandoned.
        return await asyncio.shield(request.future)

    def _drain(self) -> None:
        with self._cond:
            self._lead(None)

    def _lead(self, own: _Request[Item, Result] | None) -> None:
        """Commit batches while work is queued; called with the lock held and
        `_leading` already claimed."""
        try:
            while self._queue:
                batch = self._take()
                items = [item for queued in batch for item in queued.items]
                self._cond.release()
                try:
                    results, error = self._execute(items)
                finally:
                    self._cond.acquire()
                self._settle(batch, results, error)
                self._cond.notify_all()
                if (own is None or own.done) and any(r.future is None for r in self._queue):
                    break  # a synchronous caller is waiting: it leads from here
        finally:
            self._leading = False
            self._cond.notify_all()

    def _take(self) -> list[_Request[Item, Result]]:
        """The oldest queued requests, whole, up to `max_items` items (at least one)."""
        batch: list[_Request[Item, Result]] = []
        count = 0
        while self._queue and (not batch or count + len(self._queue[0].items) <= self._max_items):
            request = self._queue.popleft()
            batch.append(request)
            count += len(request.items)
        return batch

    def _execute(self, items: list[Item]) -> tuple[list[Result], BaseException | None]:
        try:
            results = self._commit(items)
        except BaseException as exc:  # handed to every caller in the batch
            return [], exc
        if len(results) != len(items):
            return [], RuntimeError("commit returned the wrong number of results")
        self.batches += 1
        return results, None

    @staticmethod
    def _settle(batch: list[_Request[Item, Result]], results: list[Result],
                error: BaseException | None) -> None:
        at = 0
        for request in batch:
            request.error, request.done = error, True
            request.results = results[at:at + len(request.items)]
            at += len(request.items)
            if request.future is not None:
                try:
                    request.future.get_loop().call_soon_threadsafe(_resolve, request)
                except RuntimeError:  # the caller's event loop is gone: nobody to tell
                    pass


def _resolve(request: _Request[Item, Result]) -> None:
    future = request.future
    if future is None or future.done():
        return
    if request.error is not None:
        future.set_exception(request.error)
    else:
        future.set_result(request.results)
