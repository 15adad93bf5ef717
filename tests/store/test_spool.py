"""The database goes away mid-run: writes are spooled locally (degraded state visible), reads fail with
StoreUnavailable, and when it is back the spool is replayed exactly once."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from healing_mcp.models import IssueState
from healing_mcp.store.base import IssueQuery, Store, StoreUnavailable
from healing_mcp.store.postgres import PostgresStore
from healing_mcp.store.spool import SpoolingStore

from . import pgtools
from .conftest import PgDatabase, StoreFactory, supabase_store
from .factories import at, audit, batch, group, issue_id, outcome, patch
from .postgrest_standin import PostgrestStandIn
from .tcp_proxy import TcpProxy


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Flaky:
    """Wraps a real store. ``mode``: 'up'; 'down' (every call fails before reaching the store);
    'lost_ack' (writes reach the store, then the acknowledgement is lost)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.mode = "up"

    @property
    def description(self) -> str:
        return self.store.description

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        target = getattr(self.store, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.mode == "down" and name not in ("open", "close"):
                raise StoreUnavailable("cannot reach Postgres at db:5432: connection refused")
            result = await target(*args, **kwargs)
            if self.mode == "lost_ack" and name not in ("open", "close"):
                raise StoreUnavailable("Postgres at db:5432 is unavailable (connection lost during COMMIT)")
            return result

        return call


async def memory_counts(store: Store, sig: str) -> dict[str, tuple[int, int]]:
    return {r.fix_signature: (r.successes, r.failures) for r in await store.best_fixes(sig, limit=50)}


def spool_lines(spool_dir: Path) -> int:
    return sum(len(p.read_bytes().splitlines()) for p in spool_dir.glob("*.jsonl"))


async def test_database_cut_mid_run_spools_and_replays_exactly_once(pg_db: PgDatabase, tmp_path: Path) -> None:
    proxy = TcpProxy(pgtools.HOST, pgtools.PORT)
    await proxy.start()
    url = f"postgresql://{pgtools.OWNER}@127.0.0.1:{proxy.port}/{pg_db.name}"
    clock = FakeClock()
    store = SpoolingStore(
        PostgresStore(url, max_size=2, connect_timeout=2, pool_timeout=2), tmp_path / "spool", clock=clock
    )
    await store.open()
    sig = "sig-cut"
    try:
        for n in range(20):
            await store.record_outcome(outcome(f"o{n}", sig, f"fix{n % 3}", n % 4 != 0, time=n))
        assert store.degraded_reason is None
        await store.commit_intake(batch(group("cut")), now=at(1))
        assert await store.acquire_lease("run", "me", 600)

        await proxy.cut()  # the database disappears; pooled connections die mid-session
        for n in range(20, 50):
            record = await store.record_outcome(outcome(f"o{n}", sig, f"fix{n % 3}", n % 4 != 0, time=n))
            assert record.successes + record.failures == 1  # answered locally: this outcome only
        assert store.degraded_reason is not None
        assert "Postgres" in store.degraded_reason
        assert "30 write(s) spooled" in store.degraded_reason
        assert "degraded" in store.description
        entry = audit("att-cut", "started", issue_id("cut"), time=30)
        assert await store.append_audit(entry) == 0
        finished = audit("att-cut", "finished", issue_id("cut"), time=31)
        await store.finish_attempt(finished, outcome("att-cut", sig, "fix0", True, time=31))
        with pytest.raises(StoreUnavailable):
            await store.get_issue(issue_id("cut"))
        await store.save_patch(patch("p-cut", issue_id("cut"), created=32))
        with pytest.raises(StoreUnavailable, match="spooled locally"):
            await store.best_fixes(sig)
        with pytest.raises(StoreUnavailable):
            await store.query_issues(IssueQuery())
        with pytest.raises(StoreUnavailable):
            await store.acquire_lease("run", "other", 60)
        await store.release_lease("run", "me")  # spooled: freed when the database is back, not after 600 s
        assert spool_lines(tmp_path / "spool") == 34
        assert store.spooled_writes == 34

        clock.now += 10  # a probe is due, but the database is still down
        with pytest.raises(StoreUnavailable):
            await store.get_watermark("x")
        assert store.spooled_writes == 34

        await proxy.restore()
        clock.now += 10
        assert await store.memory_insights() is not None  # the next call probes, replays, then answers
        assert store.degraded_reason is None
        assert store.spooled_writes == 0
        assert spool_lines(tmp_path / "spool") == 0

        expected: dict[str, list[int]] = {}
        for n in range(50):
            wins_losses = expected.setdefault(f"fix{n % 3}", [0, 0])
            wins_losses[0 if n % 4 != 0 else 1] += 1
        expected["fix0"][0] += 1  # the finished attempt
        assert await memory_counts(store, sig) == {k: tuple(v) for k, v in expected.items()}
        audit_log = await store.list_audit(issue_id=issue_id("cut"))
        assert [(e.attempt_id, e.phase) for e in audit_log] == [("att-cut", "started"), ("att-cut", "finished")]
        assert [p.id for p in await store.list_patches()] == ["p-cut"]
        assert await store.acquire_lease("run", "other", 60), "the replayed release freed the lease"

        # replaying the same spool again (a crash right after a replay) changes nothing
        assert await store.flush() == 0
        assert await memory_counts(store, sig) == {k: tuple(v) for k, v in expected.items()}
    finally:
        await store.close()
        await proxy.stop()


@pytest.mark.parametrize("store_kind", ["postgres", "supabase"])
async def test_lost_acknowledgements_are_replayed_as_no_ops(store_factory: StoreFactory, tmp_path: Path) -> None:
    """A write that reached the database but whose answer was lost is spooled too; replaying it must not
    count it twice."""
    real = store_factory.make()
    flaky = Flaky(real)
    clock = FakeClock()
    store = SpoolingStore(flaky, tmp_path / "spool", clock=clock)  # type: ignore[arg-type]
    await store.open()
    try:
        flaky.mode = "lost_ack"
        await store.record_outcome(outcome("a1", "s", "f", True, time=1))
        await store.append_audit(audit("att", "started", time=1))
        [issue] = await real.commit_intake(batch(group("ack")), now=at(1))
        await store.save_issue(issue.model_copy(update={"state": IssueState.fixing, "updated_at": at(5)}))
        await store.save_patch(patch("p1", issue.id))
        assert store.spooled_writes == 4  # all applied, none acknowledged
        flaky.mode = "up"
        clock.now += 60
        assert await store.flush() == 0
        assert await memory_counts(store, "s") == {"f": (1, 0)}
        assert [(e.attempt_id, e.phase) for e in await store.list_audit()] == [("att", "started")]
        stored = await store.get_issue(issue.id)
        assert stored is not None
        assert stored.state is IssueState.fixing
        assert [p.id for p in await store.list_patches()] == ["p1"]
    finally:
        await store.close()


async def test_spooled_issue_does_not_overwrite_a_newer_one(pg_db: PgDatabase, tmp_path: Path) -> None:
    real = PostgresStore(pg_db.url)
    flaky = Flaky(real)
    clock = FakeClock()
    store = SpoolingStore(flaky, tmp_path / "spool", clock=clock)  # type: ignore[arg-type]
    await store.open()
    try:
        [issue] = await store.commit_intake(batch(group("race")), now=at(1))
        flaky.mode = "down"
        await store.save_issue(issue.model_copy(update={"state": IssueState.fixing, "updated_at": at(10)}))
        # meanwhile another supervisor, still connected, resolved it later
        newer = issue.model_copy(update={"state": IssueState.resolved, "resolved_at": at(20), "updated_at": at(20)})
        await real.save_issue(newer)
        flaky.mode = "up"
        clock.now += 60
        assert await store.flush() == 0
        assert await store.get_issue(issue.id) == newer
    finally:
        await store.close()


async def test_orphaned_spool_of_a_dead_process_is_replayed_by_the_next_one(pg_db: PgDatabase, tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    first_real = PostgresStore(pg_db.url)
    first_flaky = Flaky(first_real)
    first = SpoolingStore(first_flaky, spool_dir, clock=FakeClock())  # type: ignore[arg-type]
    await first.open()
    first_flaky.mode = "down"
    for n in range(5):
        await first.record_outcome(outcome(f"d{n}", "s", "f", True, time=n))
    assert spool_lines(spool_dir) == 5

    second = SpoolingStore(PostgresStore(pg_db.url), spool_dir)
    await second.open()  # the first process is alive (its file is locked): its spool is left alone
    try:
        assert await memory_counts(second, "s") == {}
        assert spool_lines(spool_dir) == 5
        assert first._fd is not None
        os.close(first._fd)  # the first process dies: the kernel drops its lock, its file stays
        first._fd = None
        await first_real.close()

        assert await second.flush() == 0
        assert await memory_counts(second, "s") == {"f": (5, 0)}
        assert list(spool_dir.glob("*.jsonl")) == []
    finally:
        await second.close()


async def test_supabase_outage_is_spooled_too(standin: PostgrestStandIn, tmp_path: Path) -> None:
    clock = FakeClock()
    store = SpoolingStore(supabase_store(standin, timeout=5), tmp_path / "spool", clock=clock)
    await store.open()
    try:
        await store.record_outcome(outcome("s1", "sig", "fix", True, time=1))
        standin.down = True
        await store.record_outcome(outcome("s2", "sig", "fix", False, time=2))
        await store.record_outcome(outcome("s3", "sig", "fix", True, time=3))
        assert store.degraded_reason is not None
        assert "cannot reach Supabase" in store.degraded_reason
        with pytest.raises(StoreUnavailable):
            await store.best_fixes("sig")
        standin.down = False
        clock.now += 60
        [record] = await store.best_fixes("sig")
        assert (record.successes, record.failures) == (2, 1)
        assert store.degraded_reason is None
    finally:
        await store.close()


async def test_healthy_wrapper_is_transparent(pg_db: PgDatabase, tmp_path: Path) -> None:
    store = SpoolingStore(PostgresStore(pg_db.url), tmp_path / "spool")
    await store.open()
    try:
        assert store.description == PostgresStore(pg_db.url).description
        await store.record_outcome(outcome("t1", "s", "f", True, time=1))
        assert await memory_counts(store, "s") == {"f": (1, 0)}
        assert store.degraded_reason is None
        assert not (tmp_path / "spool").exists()  # nothing spooled, no file created
    finally:
        await store.close()


async def test_a_write_the_store_refuses_for_good_is_set_aside(pg_db: PgDatabase, tmp_path: Path) -> None:
    """A spooled record that can never be applied (unreadable, or refused by the database) must not block
    the writes behind it: it goes to spool/rejected/ and the replay carries on."""
    real = PostgresStore(pg_db.url)
    flaky = Flaky(real)
    clock = FakeClock()
    store = SpoolingStore(flaky, tmp_path / "spool", clock=clock)  # type: ignore[arg-type]
    await store.open()
    try:
        flaky.mode = "down"
        await store.record_outcome(outcome("r1", "s", "f", True, time=1))
        assert store._fd is not None
        os.write(store._fd, b'{"v":1,"op":"record_outcome","payload":{"outcome_id":"broken"}}\n')  # not an outcome
        os.write(store._fd, b"this line is not JSON\n")
        await store.record_outcome(outcome("r2", "s", "f", False, time=2))
        flaky.mode = "up"
        clock.now += 60
        assert await store.flush() == 0
        assert await memory_counts(store, "s") == {"f": (1, 1)}
        rejected = (tmp_path / "spool" / "rejected" / "rejected.jsonl").read_text().splitlines()
        assert len(rejected) == 2
        assert "ValidationError" in rejected[0]
        assert "unreadable" in rejected[1]
    finally:
        await store.close()
