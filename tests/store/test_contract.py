"""The store contract: one suite, run against the SQLite, Postgres and Supabase (PostgREST stand-in) stores.

Each Postgres/Supabase test gets its own migrated database; the Supabase store reaches it through the
real supabase-py client whose HTTP transport is the in-process PostgREST stand-in.
"""

from __future__ import annotations

import inspect
import sqlite3

import psycopg
import pytest

from healing_mcp.core.issues import merge_group
from healing_mcp.core.ranking import wilson_lower_bound
from healing_mcp.models import AutoFixInfo, IssueState, QuarantinedLine, Severity, Watermark
from healing_mcp.store import postgres as postgres_module
from healing_mcp.store import sqlite as sqlite_module
from healing_mcp.store import supabase as supabase_module
from healing_mcp.store.base import LATE_DETAIL, IssueQuery, Store, StoreError, WatermarkMoved, issue_lease_key
from healing_mcp.store.postgres import PostgresStore
from healing_mcp.store.spool import SpoolingStore
from healing_mcp.store.sqlite import SQLiteStore
from healing_mcp.store.supabase import SupabaseStore

from .conftest import StoreFactory
from .factories import at, audit, batch, group, issue_id, outcome, patch, signature


async def occurrences(store: Store, name: str) -> int:
    issue = await store.get_issue(issue_id(name))
    assert issue is not None, name
    return issue.occurrences


# ------------------------------------------------------------------------------------------ protocol


@pytest.mark.parametrize("cls", [SQLiteStore, PostgresStore, SupabaseStore, SpoolingStore])
def test_every_store_implements_the_whole_protocol(cls: type) -> None:
    members = [name for name in dir(Store) if not name.startswith("_")]
    assert "claim_issues" in members
    assert "finish_attempt" in members
    for name in members:
        assert hasattr(cls, name), f"{cls.__name__} lacks {name}"
        expected = getattr(Store, name)
        if callable(expected):
            want = list(inspect.signature(expected).parameters)
            got = list(inspect.signature(getattr(cls, name)).parameters)
            assert got == want, f"{cls.__name__}.{name}{got} != Store.{name}{want}"
            assert inspect.iscoroutinefunction(getattr(cls, name)) == inspect.iscoroutinefunction(expected)


# ------------------------------------------------------------------------------------------ intake


async def test_commit_intake_merges_groups_like_merge_group(store: Store) -> None:
    mark = Watermark(source="file:/tmp/a.jsonl", offset=120, fingerprint="f1", updated_at=at(5))
    bad = QuarantinedLine(source="file:/tmp/a.jsonl", offset=40, reason="not JSON", line="{oops", time=at(4))
    first = [group("buy", count=3, first=0, last=2), group("cart", count=1, first=1, severity=Severity.warning)]
    touched = await store.commit_intake(batch(*first, watermarks=[mark], quarantined=[bad]), now=at(10))
    assert [t.id for t in touched] == [issue_id("buy"), issue_id("cart")]
    assert await store.get_watermark(mark.source) == mark
    assert await store.get_watermark("file:/elsewhere") is None

    second = group("buy", count=2, first=-5, last=20, severity=Severity.critical, symptom="timeout")
    expected = merge_group(touched[0], second, at(30))
    mark2 = mark.model_copy(update={"offset": 300, "updated_at": at(25)})
    again = await store.commit_intake(batch(second, watermarks=[mark2], quarantined=[bad]), now=at(30))
    assert again == [expected]
    stored = await store.get_issue(issue_id("buy"))
    assert stored == expected
    assert stored.occurrences == 5
    assert stored.severity is Severity.critical
    assert stored.first_seen == at(-5)
    assert stored.last_seen == at(20)
    assert await store.get_watermark(mark.source) == mark2

    stats = await store.intake_stats()
    assert stats.events_seen == 6
    assert stats.quarantined == 1  # the same line quarantined twice is kept once
    assert stats.recent_quarantine == [bad]


async def test_commit_intake_reopens_a_resolved_issue(store: Store) -> None:
    [issue] = await store.commit_intake(batch(group("login", first=0)), now=at(1))
    resolved = issue.model_copy(update={"state": IssueState.resolved, "resolved_at": at(50), "updated_at": at(50)})
    await store.save_issue(resolved)
    [back] = await store.commit_intake(batch(group("login", first=60)), now=at(61))
    assert back.state is IssueState.open
    assert back.reopen_count == 1
    assert await store.get_issue(issue.id) == back


async def test_commit_intake_is_all_or_nothing(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    await store.commit_intake(batch(group("a", count=1)), now=at(1))
    calls = 0

    def failing_merge(existing, grp, now):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("crash in the middle of a batch")
        return merge_group(existing, grp, now)

    for module in (sqlite_module, postgres_module, supabase_module):
        monkeypatch.setattr(module, "merge_group", failing_merge)
    mark = Watermark(source="s", offset=10, updated_at=at(2))
    with pytest.raises(RuntimeError):
        await store.commit_intake(batch(group("a", count=5), group("b"), watermarks=[mark]), now=at(2))
    monkeypatch.undo()
    assert await occurrences(store, "a") == 1
    assert await store.get_issue(issue_id("b")) is None
    assert await store.get_watermark("s") is None
    assert (await store.intake_stats()).events_seen == 1


async def test_watermarks_move_only_from_the_value_the_reader_started_from(store: Store) -> None:
    source = "file://host-a/tmp/a.jsonl"
    first = Watermark(source=source, offset=100, fingerprint="f1", updated_at=at(1))
    await store.commit_intake(
        batch(group("wm", count=2), watermarks=[first]).model_copy(update={"expected": {source: None}}), now=at(1)
    )
    assert await store.get_watermark(source) == first

    # a reader that also started from "no watermark" (it overlapped the first one) is refused as a whole
    stale = batch(group("wm", count=2), watermarks=[first.model_copy(update={"offset": 90})])
    with pytest.raises(WatermarkMoved, match="moved since this batch was read"):
        await store.commit_intake(stale.model_copy(update={"expected": {source: None}}), now=at(2))
    assert await store.get_watermark(source) == first, "not moved backwards"
    assert await occurrences(store, "wm") == 2, "its lines were not counted again"
    assert (await store.intake_stats()).events_seen == 2

    second = first.model_copy(update={"offset": 250, "updated_at": at(3)})
    await store.commit_intake(
        batch(group("wm"), watermarks=[second]).model_copy(update={"expected": {source: first}}), now=at(3)
    )
    assert await store.get_watermark(source) == second
    with pytest.raises(WatermarkMoved):  # the same step replayed by a second reader
        await store.commit_intake(
            batch(group("wm"), watermarks=[second]).model_copy(update={"expected": {source: first}}), now=at(4)
        )
    rotated = Watermark(source=source, offset=10, fingerprint="f2", updated_at=at(5))  # a new generation
    await store.commit_intake(batch(watermarks=[rotated]).model_copy(update={"expected": {source: second}}), now=at(5))
    assert await store.get_watermark(source) == rotated
    assert await occurrences(store, "wm") == 3


# ------------------------------------------------------------------------------------------ issues


async def _seed_issues(store: Store) -> None:
    await store.commit_intake(
        batch(
            group("w1", severity=Severity.warning, first=10),
            group("e1", severity=Severity.error, first=20),
            group("e2", severity=Severity.error, first=30),
            group("c1", severity=Severity.critical, first=5),
            group("api1", component="mcp_tools", severity=Severity.error, first=40),
            group("r1", severity=Severity.critical, first=50),
        ),
        now=at(60),
    )
    r1 = await store.get_issue(issue_id("r1"))
    assert r1 is not None
    await store.save_issue(r1.model_copy(update={"state": IssueState.resolved, "resolved_at": at(55)}))
    e1 = await store.get_issue(issue_id("e1"))
    assert e1 is not None
    await store.save_issue(e1.model_copy(update={"state": IssueState.fixing}))


async def test_query_issues_orders_filters_and_pages(store: Store) -> None:
    await _seed_issues(store)
    page = await store.query_issues(IssueQuery())
    order = [i.id for i in page.issues]
    # unresolved first; then severity (critical first); then newest last_seen
    assert order == [
        issue_id("c1"),
        issue_id("api1", "mcp_tools"),
        issue_id("e2"),
        issue_id("e1"),
        issue_id("w1"),
        issue_id("r1"),
    ]
    assert page.total == 6

    browser = await store.query_issues(IssueQuery(component="browser", states=[IssueState.open, IssueState.fixing]))
    assert [i.id for i in browser.issues] == [issue_id(n) for n in ("c1", "e2", "e1", "w1")]
    assert browser.total == 4
    recent = await store.query_issues(IssueQuery(since=at(30)))
    assert {i.id for i in recent.issues} == {issue_id("e2"), issue_id("api1", "mcp_tools"), issue_id("r1")}
    severe = await store.query_issues(IssueQuery(min_severity=Severity.critical))
    assert [i.id for i in severe.issues] == [issue_id("c1"), issue_id("r1")]
    fixing = await store.query_issues(IssueQuery(states=[IssueState.fixing]))
    assert [i.state for i in fixing.issues] == [IssueState.fixing]

    second = await store.query_issues(IssueQuery(limit=2, offset=2))
    assert [i.id for i in second.issues] == order[2:4]
    assert second.total == 6
    beyond = await store.query_issues(IssueQuery(limit=5, offset=10))
    assert beyond.issues == []
    assert beyond.total == 6
    only_total = await store.query_issues(IssueQuery(limit=0))
    assert only_total.issues == []
    assert only_total.total == 6


async def test_issue_buckets(store: Store) -> None:
    await _seed_issues(store)
    buckets = await store.issue_buckets(component=None, since=None, recent_since=at(25))
    got = sorted((b.component, b.state.value, b.severity.value, b.recent, b.count) for b in buckets)
    assert got == [
        ("browser", "fixing", "error", False, 1),
        ("browser", "open", "critical", False, 1),
        ("browser", "open", "error", True, 1),
        ("browser", "open", "warning", False, 1),
        ("browser", "resolved", "critical", True, 1),
        ("mcp_tools", "open", "error", True, 1),
    ]
    only = await store.issue_buckets(component="mcp_tools", since=at(35), recent_since=at(45))
    assert [(b.component, b.recent, b.count) for b in only] == [("mcp_tools", False, 1)]


async def test_save_issue_roundtrip_and_missing(store: Store) -> None:
    assert await store.get_issue("iss_nothing") is None
    [issue] = await store.commit_intake(batch(group("x")), now=at(1))
    changed = issue.model_copy(
        update={
            "state": IssueState.escalated,
            "probable_causes": ["the page changed"],
            "auto_fix": AutoFixInfo(attempted=True, attempts=2, next_attempt_at=at(500), notes=["n"]),
        }
    )
    await store.save_issue(changed)
    await store.save_issue(changed)  # saving the same thing twice is harmless
    assert await store.get_issue(issue.id) == changed


# ------------------------------------------------------------------------------------------ leases


async def test_leases_expire_renew_and_refuse_others(store: Store) -> None:
    assert await store.acquire_lease("run", "a", 30, now=at(0))
    assert not await store.acquire_lease("run", "b", 30, now=at(10))
    assert await store.acquire_lease("run", "a", 30, now=at(20))  # renewal: now held until 50
    assert not await store.acquire_lease("run", "b", 30, now=at(45))
    assert await store.acquire_lease("run", "b", 30, now=at(51))  # a's lease expired (a died)
    assert not await store.acquire_lease("run", "a", 30, now=at(52))
    await store.release_lease("run", "a")  # not the holder: no effect
    assert not await store.acquire_lease("run", "a", 30, now=at(53))
    await store.release_lease("run", "b")
    assert await store.acquire_lease("run", "a", 30, now=at(54))
    assert await store.acquire_lease("other", "b", 30, now=at(54))  # keys are independent


async def test_lease_expiry_follows_the_store_clock(store: Store) -> None:
    """Without ``now`` the store's own clock decides, so a caller's clock cannot end a live lease early."""
    assert await store.acquire_lease("run", "a", 60)
    assert not await store.acquire_lease("run", "b", 60)
    assert await store.acquire_lease("run", "a", 60)  # renewal by the holder
    assert await store.acquire_lease("short", "a", 0.001)
    for _ in range(200):  # the store's clock, not ours, lets it expire
        if await store.acquire_lease("short", "b", 60):
            break
    else:
        raise AssertionError("an expired lease was never handed to another holder")


async def test_claim_issues(store: Store) -> None:
    await _seed_issues(store)
    w1 = await store.get_issue(issue_id("w1"))
    assert w1 is not None
    await store.save_issue(w1.model_copy(update={"auto_fix": AutoFixInfo(next_attempt_at=at(1000))}))
    assert await store.acquire_lease(issue_lease_key(issue_id("e2")), "other", 100, now=at(100))
    states = [IssueState.open, IssueState.fixing]

    first = await store.claim_issues(states, 2, "me", 60, now=at(100))
    assert [i.id for i in first] == [issue_id("c1"), issue_id("api1", "mcp_tools")]
    rest = await store.claim_issues(states, 10, "other", 60, now=at(100))
    assert [i.id for i in rest] == [issue_id("e1")]  # e2 is leased (by "other" itself), w1 is not due
    assert await store.claim_issues(states, 10, "third", 60, now=at(120)) == []
    assert not await store.acquire_lease(issue_lease_key(issue_id("c1")), "third", 60, now=at(120))
    assert await store.claim_issues(states, 10, "me", 60, now=at(130)) == []  # only hands out new work
    assert await store.acquire_lease(issue_lease_key(issue_id("c1")), "me", 60, now=at(130))  # renewal
    later = await store.claim_issues(states, 10, "third", 60, now=at(1001))  # every lease expired, w1 due
    assert [i.id for i in later] == [
        issue_id("c1"),
        issue_id("api1", "mcp_tools"),
        issue_id("e2"),
        issue_id("e1"),
        issue_id("w1"),
    ]
    assert await store.claim_issues([], 10, "x", 60, now=at(2000)) == []
    assert await store.claim_issues(states, 0, "x", 60, now=at(2000)) == []


# ------------------------------------------------------------------------------------------ audit


async def test_audit_append_list_and_unfinished(store: Store) -> None:
    s1 = await store.append_audit(audit("att1", "started", "iss_a", time=1))
    s2 = await store.append_audit(audit("att2", "started", "iss_b", time=2))
    s3 = await store.append_audit(audit("att1", "finished", "iss_a", time=3))
    s4 = await store.append_audit(audit("att3", "skipped", "iss_a", time=4))
    assert s1 < s2 < s3 < s4
    entries = await store.list_audit()
    assert [(e.attempt_id, e.phase, e.seq) for e in entries] == [
        ("att1", "started", s1),
        ("att2", "started", s2),
        ("att1", "finished", s3),
        ("att3", "skipped", s4),
    ]
    assert entries[0].model_copy(update={"seq": None}) == audit("att1", "started", "iss_a", time=1)
    assert [e.seq for e in await store.list_audit(issue_id="iss_a")] == [s1, s3, s4]
    assert [e.seq for e in await store.list_audit(limit=2)] == [s3, s4]
    assert [e.attempt_id for e in await store.unfinished_attempts()] == ["att2"]


async def test_audit_append_is_idempotent_per_attempt_and_phase(store: Store) -> None:
    first = await store.append_audit(audit("att1", "started", time=1))
    replay = await store.append_audit(audit("att1", "started", time=1))
    assert replay == first
    assert len(await store.list_audit()) == 1


# ------------------------------------------------------------------------------------------ memory


async def test_record_outcome_counts_and_scores(store: Store) -> None:
    sig = signature("buy")
    record = await store.record_outcome(outcome("o1", sig, "fixA", True, time=1, suggestion="wait longer"))
    assert (record.successes, record.failures, record.last_outcome) == (1, 0, "success")
    assert record.score == wilson_lower_bound(1, 0)
    assert record.suggestions == ["wait longer"]
    await store.record_outcome(outcome("o2", sig, "fixA", False, time=2, suggestion="use role selector"))
    record = await store.record_outcome(outcome("o3", sig, "fixA", True, time=3, suggestion="wait longer"))
    assert (record.successes, record.failures) == (2, 1)
    assert record.score == wilson_lower_bound(2, 1)
    assert sorted(record.suggestions) == ["use role selector", "wait longer"]
    assert record.last_success_at == at(3)
    assert record.last_failure_at == at(2)
    assert record.created_at == at(1)
    assert record.updated_at == at(3)
    assert record.params == {"selector": "fixA"}
    assert record.strategy == "regenerate_selector"


async def test_record_outcome_is_idempotent_on_outcome_id(store: Store) -> None:
    sig = signature("buy")
    once = await store.record_outcome(outcome("o1", sig, "fixA", True, time=1))
    twice = await store.record_outcome(outcome("o1", sig, "fixA", True, time=1))
    assert twice == once
    assert twice.successes == 1
    [best] = await store.best_fixes(sig)
    assert (best.successes, best.failures) == (1, 0)


async def test_late_replayed_outcome_does_not_hide_a_newer_one(store: Store) -> None:
    sig = signature("buy")
    await store.record_outcome(outcome("new", sig, "fixA", False, time=100))
    late = await store.record_outcome(outcome("old", sig, "fixA", True, time=50))  # e.g. replayed from a spool
    assert (late.successes, late.failures) == (1, 1)
    assert late.last_outcome == "failure"  # the most recent outcome is still the failure at t=100
    assert late.updated_at == at(100)
    assert late.last_success_at == at(50)
    assert late.last_failure_at == at(100)


async def test_best_fixes_ranks_by_wilson_lower_bound(store: Store) -> None:
    sig = signature("checkout")
    plan = {"proven": (9, 1), "lucky": (2, 0), "new": (1, 0), "bad": (1, 5), "tie_b": (2, 0)}
    n = 0
    for fix, (wins, losses) in plan.items():
        for k in range(wins + losses):
            n += 1
            await store.record_outcome(outcome(f"{fix}-{k}", sig, fix, k < wins, time=n))
    await store.record_outcome(outcome("other", signature("other"), "proven", False, time=999))
    best = await store.best_fixes(sig, limit=10)
    # lucky and tie_b have the same score and successes: the more recently updated ranks first
    assert [r.fix_signature for r in best] == ["proven", "tie_b", "lucky", "new", "bad"]
    for record in best:
        assert record.score == wilson_lower_bound(record.successes, record.failures)
    assert [r.fix_signature for r in await store.best_fixes(sig, limit=2)] == ["proven", "tie_b"]
    assert await store.best_fixes(signature("never-seen")) == []


async def test_memory_insights(store: Store) -> None:
    for k in range(4):
        await store.record_outcome(outcome(f"g{k}", "sigA", "good", True, time=k))
    for k in range(3):
        await store.record_outcome(outcome(f"b{k}", "sigA", "bad", False, time=k))
    await store.record_outcome(outcome("m1", "sigB", "meh", True, time=1))
    await store.record_outcome(outcome("m2", "sigB", "meh", False, time=2))
    insights = await store.memory_insights(limit=5)
    assert (insights.records, insights.signatures, insights.successes, insights.failures) == (3, 2, 5, 4)
    assert [r.fix_signature for r in insights.top_fixes] == ["good", "meh"]
    assert [r.fix_signature for r in insights.failing_fixes] == ["bad"]
    assert insights.top_fixes[0].score == wilson_lower_bound(4, 0)


async def test_finish_attempt_writes_audit_and_memory_together(store: Store) -> None:
    entry = audit("att9", "finished", "iss_a", time=5).model_copy(update={"successful": True})
    record = await store.finish_attempt(entry, outcome("att9", "sigA", "fixA", True, time=5))
    assert record.successes == 1
    again = await store.finish_attempt(entry, outcome("att9", "sigA", "fixA", True, time=5))  # replay
    assert again.successes == 1
    entries = await store.list_audit()
    assert [(e.attempt_id, e.phase, e.successful) for e in entries] == [("att9", "finished", True)]


async def test_an_attempt_is_closed_once(store: Store) -> None:
    """A supervisor cut off for longer than its lease: its attempt was closed as interrupted by another
    one, which re-applied the fix. Its finished entry arrives late: kept, marked late, not counted."""
    await store.append_audit(audit("att-slow", "started", "iss_a", time=1))
    await store.append_audit(audit("att-slow", "interrupted", "iss_a", time=5))
    late = audit("att-slow", "finished", "iss_a", time=3).model_copy(update={"successful": True})
    record = await store.finish_attempt(late, outcome("att-slow", "sigA", "fixA", True, time=3))
    assert (record.successes, record.failures) == (0, 0)
    assert await store.best_fixes("sigA") == []
    await store.finish_attempt(late, outcome("att-slow", "sigA", "fixA", True, time=3))  # replayed again
    assert await store.best_fixes("sigA") == []
    entries = await store.list_audit(issue_id="iss_a")
    assert [e.phase for e in entries] == ["started", "interrupted", "finished"]
    assert "not counted" in entries[-1].details[LATE_DETAIL]
    assert await store.unfinished_attempts() == []
    # an outcome already counted for the pair stays as it is, and is what a late entry returns
    await store.record_outcome(outcome("att-other", "sigA", "fixA", True, time=9))
    again = await store.finish_attempt(late, outcome("att-slow", "sigA", "fixA", True, time=3))
    assert (again.successes, again.failures) == (1, 0)

    # the other order: the attempt finished, then a recovering supervisor tries to interrupt it
    await store.append_audit(audit("att-done", "started", "iss_b", time=1))
    done = audit("att-done", "finished", "iss_b", time=2).model_copy(update={"successful": True})
    await store.finish_attempt(done, outcome("att-done", "sigB", "fixB", True, time=2))
    finished_seq = [e.seq for e in await store.list_audit(issue_id="iss_b") if e.phase == "finished"]
    assert [await store.append_audit(audit("att-done", "interrupted", "iss_b", time=3))] == finished_seq
    assert [e.phase for e in await store.list_audit(issue_id="iss_b")] == ["started", "finished"]
    assert [(r.successes, r.failures) for r in await store.best_fixes("sigB")] == [(1, 0)]


# ------------------------------------------------------------------------------------------ patches


async def test_patches(store: Store) -> None:
    await store.save_patch(patch("p1", "iss_a", created=1))
    await store.save_patch(patch("p2", "iss_a", created=2))
    await store.save_patch(patch("p3", "iss_b", component="supabase", created=3))
    assert [p.id for p in await store.list_patches()] == ["p3", "p2", "p1"]
    assert [p.id for p in await store.list_patches(issue_id="iss_a")] == ["p2", "p1"]
    assert [p.id for p in await store.list_patches(component="supabase")] == ["p3"]
    assert await store.list_patches(issue_id="iss_a", component="supabase") == []
    updated = patch("p1", "iss_a", created=9).model_copy(update={"title": "better fix"})
    await store.save_patch(updated)
    listed = await store.list_patches(issue_id="iss_a")
    assert listed[0] == updated
    assert len(listed) == 2


# ------------------------------------------------------------------------------------------ append-only


async def test_audit_log_rejects_update_and_delete_below_the_api(store: Store, store_factory: StoreFactory) -> None:
    await store.append_audit(audit("att1", "started", time=1))
    if store_factory.kind == "sqlite":
        conn = sqlite3.connect(store_factory.tmp_path / "healing.db")
        try:
            for statement in ("UPDATE audit_log SET phase = 'finished'", "DELETE FROM audit_log"):
                with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                    conn.execute(statement)
        finally:
            conn.close()
    elif store_factory.kind == "postgres":
        assert store_factory.db is not None
        async with await psycopg.AsyncConnection.connect(store_factory.db.url, autocommit=True) as pg:
            for statement in (
                "update public.healing_audit_log set phase = 'finished'",
                "delete from public.healing_audit_log",
                "truncate public.healing_audit_log",
            ):
                with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
                    await pg.execute(statement)
    else:  # through the HTTP API with the service_role key: no UPDATE/DELETE privilege at all
        assert isinstance(store, SupabaseStore)
        from postgrest.exceptions import APIError

        client = store._client
        with pytest.raises(APIError) as update_error:
            await client.table("healing_audit_log").update({"phase": "finished"}).eq("attempt_id", "att1").execute()
        assert update_error.value.code == "42501"
        with pytest.raises(APIError) as delete_error:
            await client.table("healing_audit_log").delete().eq("attempt_id", "att1").execute()
        assert delete_error.value.code == "42501"
    assert [e.phase for e in await store.list_audit()] == ["started"]


# ------------------------------------------------------------------------------------------ lifecycle


async def test_closed_store_refuses_calls(store_factory: StoreFactory) -> None:
    instance = store_factory.make()
    await instance.open()
    await instance.close()
    with pytest.raises(StoreError, match="closed"):
        await instance.get_issue("x")


async def test_two_instances_share_state(store_factory: StoreFactory) -> None:
    a, b = store_factory.make(), store_factory.make()
    await a.open()
    await b.open()
    try:
        await a.commit_intake(batch(group("shared", count=2)), now=at(1))
        await b.commit_intake(batch(group("shared", count=3)), now=at(2))
        issue = await a.get_issue(issue_id("shared"))
        assert issue is not None
        assert issue.occurrences == 5
        assert await a.acquire_lease("k", "a", 60, now=at(0))
        assert not await b.acquire_lease("k", "b", 60, now=at(1))
    finally:
        await a.close()
        await b.close()
