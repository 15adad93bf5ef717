"""Many supervisors on one store: concurrent writers lose nothing and count nothing twice, and leases
are won by exactly one holder."""

from __future__ import annotations

import asyncio
import json
import random
import sys
from collections import Counter
from pathlib import Path

import pytest

from healing_mcp.models import IssueState
from healing_mcp.store.base import Store, issue_lease_key

from ._writer import WRITERS, outcome_for, replays_of
from .conftest import StoreFactory, supabase_store
from .factories import at, batch, group, issue_id
from .postgrest_standin import PostgrestStandIn

PER_WRITER = 500
WRITER_SCRIPT = Path(__file__).with_name("_writer.py")


def expected_counts() -> dict[tuple[str, str], Counter[str]]:
    totals: dict[tuple[str, str], Counter[str]] = {}
    for writer in range(WRITERS):
        for n in range(PER_WRITER):
            o = outcome_for(writer, n)
            totals.setdefault((o.issue_signature, o.fix_signature), Counter())["s" if o.success else "f"] += 1
    return totals


async def assert_memory_matches(store: Store) -> None:
    expected = expected_counts()
    seen: dict[tuple[str, str], Counter[str]] = {}
    for sig in sorted({s for s, _ in expected}):
        for record in await store.best_fixes(sig, limit=100):
            seen[(sig, record.fix_signature)] = Counter(s=record.successes, f=record.failures)
    assert seen == expected
    insights = await store.memory_insights()
    assert insights.successes + insights.failures == WRITERS * PER_WRITER


@pytest.mark.parametrize("store_kind", ["sqlite", "postgres"])
async def test_eight_writer_processes_count_exactly(store_factory: StoreFactory, tmp_path: Path) -> None:
    """8 processes x 500 outcomes over overlapping signatures, plus replays of each other's outcome ids.
    (The Supabase store runs the same workload in-process: test_eight_supabase_clients_count_exactly.)"""
    store = store_factory.make()
    await store.open()  # creates the SQLite schema before the writers start
    target = str(tmp_path / "healing.db") if store_factory.kind == "sqlite" else store_factory.db.url  # type: ignore[union-attr]
    go = tmp_path / "go"
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(WRITER_SCRIPT),
            store_factory.kind,
            target,
            str(i),
            str(PER_WRITER),
            str(go),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for i in range(WRITERS)
    ]
    await asyncio.sleep(0.5)
    go.touch()
    results = [await proc.communicate() for proc in procs]
    try:
        for proc, (out, err) in zip(procs, results, strict=True):
            assert proc.returncode == 0, err.decode()[-2000:]
            summary = json.loads(out)
            assert summary["recorded"] == PER_WRITER + len(replays_of(summary["writer"], PER_WRITER))
        await assert_memory_matches(store)
    finally:
        await store.close()


async def test_eight_supabase_clients_count_exactly(pg_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The same workload through 8 independent supabase-py clients (each with its own HTTP client and its
    own stand-in connection pool) running concurrently."""
    transports = [PostgrestStandIn(pg_db.authenticator_url) for _ in range(WRITERS)]
    stores = [supabase_store(t) for t in transports]
    for s in stores:
        await s.open()

    async def writer(i: int) -> None:
        plan = [(i, n) for n in range(PER_WRITER)] + replays_of(i, PER_WRITER)
        random.Random(i).shuffle(plan)
        for w, n in plan:
            await stores[i].record_outcome(outcome_for(w, n))

    try:
        await asyncio.gather(*(writer(i) for i in range(WRITERS)))
        await assert_memory_matches(stores[0])
    finally:
        for s, t in zip(stores, transports, strict=True):
            await s.close()
            await t.aclose()


async def test_concurrent_intake_commits_merge_exactly(store_factory: StoreFactory) -> None:
    """8 stores commit batches over the same (partly brand-new) signatures at once: every occurrence is
    counted once, whatever the interleaving (row locks, compare-and-swap retries)."""
    stores = [store_factory.make() for _ in range(WRITERS)]
    for s in stores:
        await s.open()
    names = [f"page{k}" for k in range(6)]

    async def writer(i: int) -> None:
        for round_ in range(10):
            picked = [names[(i + round_ + k) % len(names)] for k in range(3)]
            await stores[i].commit_intake(
                batch(*(group(n, count=i + 1, first=round_) for n in picked)), now=at(100 + round_)
            )

    try:
        await asyncio.gather(*(writer(i) for i in range(WRITERS)))
        expected = Counter[str]()
        for i in range(WRITERS):
            for round_ in range(10):
                for k in range(3):
                    expected[names[(i + round_ + k) % len(names)]] += i + 1
        for name in names:
            issue = await stores[0].get_issue(issue_id(name))
            assert issue is not None
            assert issue.occurrences == expected[name], name
        assert (await stores[0].intake_stats()).events_seen == sum(expected.values())
    finally:
        for s in stores:
            await s.close()


async def test_two_holders_race_for_100_leases(store_factory: StoreFactory) -> None:
    a, b = store_factory.make(), store_factory.make()
    await a.open()
    await b.open()
    keys = [f"issue:{k:03d}" for k in range(100)]
    try:

        async def grab(store: Store, holder: str, order: list[str]) -> set[str]:
            won = await asyncio.gather(*(store.acquire_lease(k, holder, 30, now=at(0)) for k in order))
            return {k for k, ok in zip(order, won, strict=True) if ok}

        shuffled = keys[:]
        random.Random(7).shuffle(shuffled)
        won_a, won_b = await asyncio.gather(grab(a, "A", keys), grab(b, "B", shuffled))
        assert won_a.isdisjoint(won_b)
        assert won_a | won_b == set(keys)

        # before expiry nobody takes the other's keys; after it (the holder died) the other one can
        assert not any(await asyncio.gather(*(b.acquire_lease(k, "B", 30, now=at(29)) for k in won_a)))
        assert all(await asyncio.gather(*(b.acquire_lease(k, "B", 30, now=at(31)) for k in won_a)))
        assert not any(await asyncio.gather(*(a.acquire_lease(k, "A", 30, now=at(32)) for k in won_a)))
    finally:
        await a.close()
        await b.close()


async def test_two_supervisors_claim_disjoint_issues(store_factory: StoreFactory) -> None:
    a, b = store_factory.make(), store_factory.make()
    await a.open()
    await b.open()
    try:
        for start in range(0, 100, 25):
            await a.commit_intake(batch(*(group(f"c{k}", first=k) for k in range(start, start + 25))), now=at(200))
        states = [IssueState.open]

        async def claim_all(store: Store, holder: str) -> list[str]:
            got: list[str] = []
            for _ in range(100):  # each round hands out new work only; 100 issues need at most 15 rounds
                claimed = await store.claim_issues(states, 7, holder, 60, now=at(300))
                if not claimed:
                    return got
                got.extend(i.id for i in claimed)
            raise AssertionError(f"{holder} kept receiving issues: {len(got)} claims")

        got_a, got_b = await asyncio.gather(claim_all(a, "A"), claim_all(b, "B"))
        all_ids = {issue_id(f"c{k}") for k in range(100)}
        assert len(got_a) == len(set(got_a))
        assert set(got_a).isdisjoint(got_b)
        assert set(got_a) | set(got_b) == all_ids
        # the claims are ordinary leases: the other holder cannot take them until they expire
        victim = got_a[0] if got_a else got_b[0]
        assert not await b.acquire_lease(issue_lease_key(victim), "C", 60, now=at(330))
        assert await b.acquire_lease(issue_lease_key(victim), "C", 60, now=at(361))
        rest = await a.claim_issues(states, 100, "D", 60, now=at(361))
        assert {i.id for i in rest} == all_ids - {victim}
    finally:
        await a.close()
        await b.close()
