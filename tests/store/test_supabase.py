"""Supabase store specifics: which endpoints it uses, paging past PostgREST's max-rows, and the PostgREST
wire format the stand-in answers with (what the store's error handling relies on)."""

from __future__ import annotations

import pytest
from postgrest.exceptions import APIError

from healing_mcp.store.base import IssueQuery

from .conftest import PgDatabase, supabase_store
from .factories import at, audit, batch, group, outcome, patch
from .postgrest_standin import PostgrestStandIn


async def test_writes_are_rpc_calls_and_reads_use_table_endpoints(standin: PostgrestStandIn) -> None:
    store = supabase_store(standin)
    await store.open()
    try:
        standin.calls.clear()
        await store.record_outcome(outcome("o1", "s", "f", True))
        await store.commit_intake(batch(group("x")), now=at(1))
        await store.query_issues(IssueQuery())
        await store.best_fixes("s")
        assert standin.calls == [
            ("POST", "/rest/v1/rpc/healing_record_outcome"),
            ("GET", "/rest/v1/healing_issues"),  # read the issues to merge, with their versions
            ("POST", "/rest/v1/rpc/healing_commit_intake"),  # write them back (compare-and-swap)
            ("GET", "/rest/v1/healing_issues"),
            ("POST", "/rest/v1/rpc/healing_best_fixes"),
        ]
    finally:
        await store.close()


async def test_long_answers_are_paged_past_max_rows(pg_db: PgDatabase) -> None:
    transport = PostgrestStandIn(pg_db.authenticator_url, max_rows=3)  # Supabase's default is 1000
    store = supabase_store(transport)
    await store.open()
    try:
        for k in range(8):
            await store.save_patch(patch(f"p{k}", "iss_a", created=k))
            await store.append_audit(audit(f"att{k}", "started", "iss_a", time=k))
        await store.commit_intake(batch(*(group(f"g{k}", first=k) for k in range(7))), now=at(10))

        assert [p.id for p in await store.list_patches()] == [f"p{k}" for k in reversed(range(8))]
        assert [e.attempt_id for e in await store.unfinished_attempts()] == [f"att{k}" for k in range(8)]
        assert [e.attempt_id for e in await store.list_audit(limit=5)] == [f"att{k}" for k in range(3, 8)]
        everything = await store.query_issues(IssueQuery(limit=50))
        assert len(everything.issues) == 7
        assert everything.total == 7
        window = await store.query_issues(IssueQuery(limit=4, offset=2))
        assert window.issues == everything.issues[2:6]
        assert window.total == 7
        none = await store.query_issues(IssueQuery(limit=0))
        assert none.issues == []
        assert none.total == 7
    finally:
        await store.close()
        await transport.aclose()


async def test_standin_answers_in_postgrest_wire_format(standin: PostgrestStandIn) -> None:
    store = supabase_store(standin)
    await store.open()
    client = store._client
    try:
        with pytest.raises(APIError) as unknown_function:
            await client.rpc("healing_no_such_function", {"x": 1}).execute()
        assert unknown_function.value.code == "PGRST202"
        assert "Could not find the function public.healing_no_such_function(x)" in str(unknown_function.value.message)

        with pytest.raises(APIError) as wrong_args:
            await client.rpc("healing_best_fixes", {"signature": "s"}).execute()
        assert wrong_args.value.code == "PGRST202"
        assert "healing_best_fixes(p_issue_signature, p_limit)" in str(wrong_args.value.hint)

        with pytest.raises(APIError) as unknown_table:
            await client.table("healing_nothing").select("*").execute()
        assert unknown_table.value.code == "PGRST205"
        assert unknown_table.value.message == "Could not find the table 'public.healing_nothing' in the schema cache"

        with pytest.raises(APIError) as unknown_column:
            await client.table("healing_memory").select("*").eq("nope", "x").execute()
        assert unknown_column.value.code == "42703"

        with pytest.raises(APIError) as bad_value:
            await client.table("healing_memory").select("*").eq("success_count", "many").execute()
        assert bad_value.value.code == "22P02"

        with pytest.raises(APIError) as bad_argument:
            await client.rpc("healing_append_audit", {"p_entry": {"phase": "started"}}).execute()
        assert bad_argument.value.code == "22023"
        assert "needs attempt_id, phase and issue_id" in str(bad_argument.value.message)

        response = await client.table("healing_memory").select("fix_signature", count="exact").execute()
        assert response.data == []
        assert response.count == 0
    finally:
        await store.close()
