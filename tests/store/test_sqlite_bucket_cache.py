"""The SQLite store reuses its last issue counts between reports: never stale, whoever wrote."""

from __future__ import annotations

from pathlib import Path

from healing_mcp.store.base import IntakeBatch, IssueBucket
from healing_mcp.store.sqlite import SQLiteStore
from tests.store.factories import at, group


def _counts(buckets: list[IssueBucket]) -> dict[tuple[str, bool], int]:
    out: dict[tuple[str, bool], int] = {}
    for b in buckets:
        out[(b.component, b.recent)] = out.get((b.component, b.recent), 0) + b.count
    return out


async def test_counts_follow_the_moving_cutoffs_and_every_writer(tmp_path: Path) -> None:
    path = tmp_path / "healing.db"
    store, other = SQLiteStore(path), SQLiteStore(path)
    await store.open()
    await other.open()
    try:
        await store.commit_intake(
            IntakeBatch(groups=[group("a", last=10), group("b", last=20), group("c", component="api", last=30)]),
            now=at(30),
        )

        async def counts(recent: float, since: float | None = None) -> dict[tuple[str, bool], int]:
            return _counts(
                await store.issue_buckets(
                    component=None, since=None if since is None else at(since), recent_since=at(recent)
                )
            )

        assert await counts(5) == {("browser", True): 2, ("api", True): 1}
        assert await counts(6) == {("browser", True): 2, ("api", True): 1}  # reused: nothing passed
        assert await counts(15) == {("browser", False): 1, ("browser", True): 1, ("api", True): 1}
        assert await counts(5) == {("browser", True): 2, ("api", True): 1}  # the cutoff moved back
        assert await counts(5, since=15) == {("browser", True): 1, ("api", True): 1}
        assert await counts(5, since=25) == {("api", True): 1}

        # Another connection (another process, in real life) writes: the next count sees it.
        await other.commit_intake(IntakeBatch(groups=[group("d", last=40)]), now=at(40))
        assert await counts(5) == {("browser", True): 3, ("api", True): 1}
        # This connection writes.
        await store.commit_intake(IntakeBatch(groups=[group("e", component="api", last=41)]), now=at(41))
        assert await counts(5) == {("browser", True): 3, ("api", True): 2}

        only_api = await store.issue_buckets(component="api", since=None, recent_since=at(35))
        assert _counts(only_api) == {("api", False): 1, ("api", True): 1}
    finally:
        await store.close()
        await other.close()
