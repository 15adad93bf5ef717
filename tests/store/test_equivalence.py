"""The three stores are interchangeable: the same operations give the same answers (ranking, scores,
suggestions, merged issues, ordering), so switching stores never changes what the loop decides."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healing_mcp.models import IssueState, MemoryRecord, Severity
from healing_mcp.store.base import IssueQuery, Store
from healing_mcp.store.postgres import PostgresStore
from healing_mcp.store.sqlite import SQLiteStore

from . import pgtools
from .conftest import PgDatabase, Templates, supabase_store
from .factories import at, batch, group, outcome
from .postgrest_standin import PostgrestStandIn

SUGGESTIONS = [f"note {c}" for c in "kbxafmqzcgeyhwd"] + ["Ünïcode", "ascii", "Zebra", "apple"]


@pytest.fixture
async def three_stores(pg_db: PgDatabase, pg_templates: Templates, tmp_path: Path) -> AsyncIterator[list[Store]]:
    """SQLite, Postgres and Supabase, each on its own database."""
    with pgtools.database(template=pg_templates.migrated) as other:
        transport = PostgrestStandIn(PgDatabase(other).authenticator_url)
        stores: list[Store] = [
            SQLiteStore(tmp_path / "healing.db"),
            PostgresStore(pg_db.url),
            supabase_store(transport),
        ]
        for s in stores:
            await s.open()
        yield stores
        for s in stores:
            await s.close()
        await transport.aclose()


def comparable(records: list[MemoryRecord]) -> list[dict[str, object]]:
    return [r.model_dump() for r in records]


outcomes = st.lists(
    st.tuples(
        st.integers(0, 2),  # issue signature
        st.integers(0, 3),  # fix signature
        st.booleans(),  # success
        st.integers(0, 40),  # time: ties are frequent on purpose
        st.one_of(st.none(), st.integers(0, len(SUGGESTIONS) - 1)),
    ),
    min_size=1,
    max_size=40,
)
_example = iter(range(10**9))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=outcomes)
async def test_memory_answers_are_identical(
    three_stores: list[Store], plan: list[tuple[int, int, bool, int, int | None]]
) -> None:
    prefix = f"ex{next(_example)}"
    for store in three_stores:
        for n, (sig, fix, success, time, note) in enumerate(plan):
            suggestion = None if note is None else SUGGESTIONS[note]
            await store.record_outcome(
                outcome(f"{prefix}-{n}", f"{prefix}-sig{sig}", f"fix{fix}", success, time=time, suggestion=suggestion)
            )
        # replays change nothing
        sig, fix, success, time, note = plan[0]
        await store.record_outcome(outcome(f"{prefix}-0", f"{prefix}-sig{sig}", f"fix{fix}", success, time=time))
    for sig in range(3):
        answers = [comparable(await s.best_fixes(f"{prefix}-sig{sig}", limit=10)) for s in three_stores]
        assert answers[1] == answers[0]
        assert answers[2] == answers[0]


async def test_issue_answers_are_identical(three_stores: list[Store]) -> None:
    first_batch = batch(
        group("a", severity=Severity.warning, first=5, last=9),
        group("b", severity=Severity.critical, first=1, count=4),
        group("c", component="supabase", first=3),
        group("d", first=3),
        group("e", first=3),
    )
    second_batch = batch(group("a", severity=Severity.error, first=2, last=20, count=2))
    for store in three_stores:
        await store.commit_intake(first_batch, now=at(10))
        await store.commit_intake(second_batch, now=at(30))
        page = await store.query_issues(IssueQuery(limit=2, offset=1))
        first = page.issues[0]
        await store.save_issue(first.model_copy(update={"state": IssueState.resolved, "resolved_at": at(31)}))
    pages = [await s.query_issues(IssueQuery()) for s in three_stores]
    assert pages[1] == pages[0]
    assert pages[2] == pages[0]
    buckets = [
        sorted(b.model_dump_json() for b in await s.issue_buckets(component=None, since=at(2), recent_since=at(4)))
        for s in three_stores
    ]
    assert buckets[1] == buckets[0]
    assert buckets[2] == buckets[0]
    stats = [await s.intake_stats() for s in three_stores]
    assert stats[1] == stats[0]
    assert stats[2] == stats[0]
