"""Group commit: every caller gets its own results only after its batch committed,
batches form under concurrency, and a failed commit fails exactly its batch."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from synthguard.audit.groupcommit import GroupCommit


class Store:
    """Commits by appending to `committed` after a pause (the fsync)."""

    def __init__(self, pause_s: float = 0.005, fail_on: str | None = None) -> None:
        self.committed: list[str] = []
        self.batches: list[list[str]] = []
        self.pause_s, self.fail_on = pause_s, fail_on
        self.inside = 0
        self.max_inside = 0
        self._lock = threading.Lock()

    def commit(self, items: list[str]) -> list[int]:
        with self._lock:
            self.inside += 1
            self.max_inside = max(self.max_inside, self.inside)
        try:
            time.sleep(self.pause_s)
            if self.fail_on in items:
                raise RuntimeError("disk full")
            start = len(self.committed)
            self.committed.extend(items)
            self.batches.append(list(items))
            return list(range(start, start + len(items)))
        finally:
            with self._lock:
                self.inside -= 1


def _run_threads(group: GroupCommit[str, int], calls: list[list[str]]
                 ) -> list[list[int] | BaseException]:
    results: list[list[int] | BaseException] = [[] for _ in calls]
    start = threading.Barrier(len(calls))

    def call(i: int) -> None:
        start.wait()
        try:
            results[i] = group.submit(calls[i])
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_callers_share_commits_and_get_their_own_positions() -> None:
    store = Store()
    group: GroupCommit[str, int] = GroupCommit(store.commit)
    calls = [[f"{i}.a", f"{i}.b"] for i in range(40)]
    results = _run_threads(group, calls)
    assert store.max_inside == 1  # one commit at a time
    assert sorted(store.committed) == sorted(x for c in calls for x in c)
    for items, positions in zip(calls, results, strict=True):
        assert isinstance(positions, list)
        assert [store.committed[p] for p in positions] == items  # kept together, in order
    assert group.batches == len(store.batches) < len(calls)


def test_a_batch_never_exceeds_max_items_but_a_big_request_stays_whole() -> None:
    store = Store()
    group: GroupCommit[str, int] = GroupCommit(store.commit, max_items=5)
    calls = [[f"{i}.{j}" for j in range(2)] for i in range(20)] + [[f"big.{j}" for j in range(9)]]
    _run_threads(group, calls)
    for batch in store.batches:
        assert len(batch) <= 5 or all(item.startswith("big.") for item in batch)


def test_a_failed_commit_fails_only_its_own_batch() -> None:
    store = Store(fail_on="bad")
    group: GroupCommit[str, int] = GroupCommit(store.commit)
    assert group.submit(["first"]) == [0]
    with pytest.raises(RuntimeError, match="disk full"):
        group.submit(["bad"])
    assert group.submit(["after"]) == [1]
    results = _run_threads(group, [["bad"]] + [[f"ok{i}"] for i in range(10)])
    failed = [r for r in results if isinstance(r, BaseException)]
    assert failed  # the bad one, and whoever shared its batch
    assert all(f"ok{i}" in store.committed
               for i, r in enumerate(results[1:]) if not isinstance(r, BaseException))
    assert "bad" not in store.committed


def test_async_callers_wait_without_threads_and_are_batched() -> None:
    store = Store(pause_s=0.01)
    group: GroupCommit[str, int] = GroupCommit(store.commit)

    async def main() -> list[list[int]]:
        return await asyncio.gather(*(group.submit_async([f"r{i}"]) for i in range(200)))

    before = threading.active_count()
    results = asyncio.run(main())
    assert sorted(store.committed[r[0]] for r in results) == sorted(f"r{i}" for i in range(200))
    assert group.batches <= 20  # 200 waiting requests, a handful of commits
    assert threading.active_count() <= before + 1


def test_async_failures_reach_the_awaiting_callers() -> None:
    store = Store(fail_on="bad")
    group: GroupCommit[str, int] = GroupCommit(store.commit)

    async def main() -> None:
        with pytest.raises(RuntimeError, match="disk full"):
            await group.submit_async(["bad"])
        assert await group.submit_async(["good"]) == [0]

    asyncio.run(main())


def test_sync_and_async_callers_mix() -> None:
    store = Store(pause_s=0.005)
    group: GroupCommit[str, int] = GroupCommit(store.commit)
    sync_results: list[list[int]] = []

    def sync_caller() -> None:
        for i in range(20):
            sync_results.append(group.submit([f"s{i}"]))

    async def main() -> list[list[int]]:
        thread = threading.Thread(target=sync_caller)
        thread.start()
        results = await asyncio.gather(*(group.submit_async([f"a{i}"]) for i in range(100)))
        await asyncio.get_running_loop().run_in_executor(None, thread.join)
        return results

    results = asyncio.run(main())
    assert len(store.committed) == 120 and len(set(store.committed)) == 120
    assert all(store.committed[r[0]].startswith("a") for r in results)
    assert all(store.committed[r[0]].startswith("s") for r in sync_results)
