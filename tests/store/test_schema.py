"""The migrations and SQL functions on a real PostgreSQL with Supabase's roles emulated: they apply as a
non-superuser, re-applying is a no-op, row level security keeps ``anon`` and ``authenticated`` out, and
the SQL functions agree with the Python code (Wilson score, severity ranks)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from healing_mcp.config import Settings
from healing_mcp.core.ranking import wilson_lower_bound
from healing_mcp.models import Environment, Severity
from healing_mcp.store.base import StoreError
from healing_mcp.store.migrate import migrate, migration_files, migration_status

from .conftest import SUPABASE_URL, PgDatabase, run_cli
from .factories import group, issue_id
from .postgrest_standin import PostgrestStandIn, make_key

MIGRATIONS = [f.name for f in migration_files()]
# every table, with a column an UPDATE can name
TABLES = {
    "healing_schema_migrations": "checksum",
    "healing_issues": "data",
    "healing_watermarks": "fingerprint",
    "healing_quarantine": "data",
    "healing_counters": "value",
    "healing_leases": "holder",
    "healing_audit_log": "data",
    "healing_memory": "strategy",
    "healing_memory_outcomes": "success",
    "healing_patches": "data",
}


def settings_for(db: PgDatabase, tmp_path: Path, env: Environment | None = Environment.dev) -> Settings:
    return Settings(database_url=db.url, env=env, home=tmp_path)


async def connect(url: str) -> psycopg.AsyncConnection[dict[str, Any]]:
    return await psycopg.AsyncConnection.connect(url, row_factory=dict_row, prepare_threshold=None)


CATALOG_SNAPSHOT = """
select jsonb_build_object(
  'columns', (select jsonb_agg(c order by c) from (
      select table_name || '.' || column_name || ':' || data_type || ':' || is_nullable || ':' ||
             coalesce(column_default, '') || ':' || coalesce(collation_name, '') as c
      from information_schema.columns where table_schema = 'public' and table_name like 'healing\\_%') x),
  'indexes', (select jsonb_agg(indexdef order by indexdef) from pg_indexes
              where schemaname = 'public' and tablename like 'healing\\_%'),
  'constraints', (select jsonb_agg(conname || ' ' || pg_get_constraintdef(oid) order by conname)
                  from pg_constraint where conrelid::regclass::text like 'healing\\_%'),
  'policies', (select jsonb_agg(to_jsonb(p) order by tablename, policyname) from pg_policies p
               where schemaname = 'public'),
  'triggers', (select jsonb_agg(pg_get_triggerdef(t.oid) order by tgname) from pg_trigger t
               where not tgisinternal and tgrelid::regclass::text like 'healing\\_%'),
  'functions', (select jsonb_agg(jsonb_build_object('def', pg_get_functiondef(p.oid), 'acl', p.proacl::text)
                                 order by p.oid::regprocedure::text)
                from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                where n.nspname = 'public' and p.proname like 'healing\\_%'),
  'tables', (select jsonb_agg(jsonb_build_object('t', relname, 'acl', relacl::text, 'rls', relrowsecurity,
                                                 'opts', reloptions) order by relname)
             from pg_class where relnamespace = 'public'::regnamespace and relname like 'healing\\_%'
             and relkind in ('r', 'S')),
  'ledger', (select jsonb_agg(jsonb_build_object('name', name, 'checksum', checksum) order by name)
             from public.healing_schema_migrations)
) as snapshot
"""


async def snapshot(url: str) -> dict[str, Any]:
    async with await connect(url) as conn:
        cur = await conn.execute(CATALOG_SNAPSHOT)
        row = await cur.fetchone()
        assert row is not None
        return dict(row["snapshot"])


# ------------------------------------------------------------------------------------------ migrations


def _migration_texts() -> list[bytes]:
    return [Path(f.path).read_bytes() for f in migration_files()]


async def test_migrate_applies_as_a_non_superuser_and_again_is_a_no_op(pg_empty_db: PgDatabase, tmp_path: Path) -> None:
    async with await connect(pg_empty_db.url) as conn:
        cur = await conn.execute("select rolsuper from pg_roles where rolname = current_user")
        row = await cur.fetchone()
        assert row == {"rolsuper": False}

    settings = settings_for(pg_empty_db, tmp_path)
    before = await migration_status(settings)
    assert [f.name for f in before.pending] == MIGRATIONS
    assert not before.up_to_date

    report = await migrate(settings, confirm=False)  # dev: no confirmation needed
    assert report.applied == MIGRATIONS
    status = await migration_status(settings)
    assert status.up_to_date
    assert status.pending == []
    assert [(a.name, a.checksum) for a in status.applied] == [(f.name, f.checksum) for f in migration_files()]
    first = await snapshot(pg_empty_db.url)

    again = await migrate(settings, confirm=False)
    assert again.applied == []
    assert again.already_applied == MIGRATIONS
    assert "already up to date" in again.summary

    # Applying the files by hand again (as `supabase db push` after a reset of its history would) changes
    # nothing either: same tables, columns, indexes, constraints, policies, triggers, functions, grants.
    async with await connect(pg_empty_db.url) as conn:
        for text in _migration_texts():
            await conn.execute(text)
        await conn.commit()
    assert await snapshot(pg_empty_db.url) == first


def test_db_status_exits_1_while_migrations_are_pending(pg_empty_db: PgDatabase, tmp_path: Path) -> None:
    pending = run_cli(tmp_path, "db", "status", DATABASE_URL=pg_empty_db.url)
    assert pending.returncode == 1, pending.stderr
    assert f"{len(MIGRATIONS)} pending migration(s)" in pending.stdout
    assert len(pending.stdout) > 80 and pending.stdout.count("\n") == 1, "one plain line, not wrapped when piped"
    applied = run_cli(tmp_path, "db", "migrate", DATABASE_URL=pg_empty_db.url)
    assert applied.returncode == 0 and applied.stdout.startswith(f"applied {len(MIGRATIONS)} migration(s)")
    current = run_cli(tmp_path, "db", "status", DATABASE_URL=pg_empty_db.url)
    assert current.returncode == 0 and "is up to date" in current.stdout


async def test_migrate_refuses_outside_dev_without_confirmation(pg_empty_db: PgDatabase, tmp_path: Path) -> None:
    settings = settings_for(pg_empty_db, tmp_path, env=None)  # a remote store with no env is treated as prod
    assert settings.environment is Environment.prod
    with pytest.raises(StoreError) as refused:
        await migrate(settings, confirm=False)
    message = str(refused.value)
    assert "\n" not in message
    assert "refusing to migrate" in message
    assert "prod environment" in message
    assert "healing-mcp db migrate --yes" in message
    assert (await migration_status(settings)).pending  # nothing was applied

    report = await migrate(settings, confirm=True)
    assert report.applied == MIGRATIONS
    assert (await migrate(settings, confirm=False)).applied == []  # up to date: no confirmation needed


async def test_status_reports_changed_and_foreign_migrations(pg_db: PgDatabase, tmp_path: Path) -> None:
    async with await connect(pg_db.url) as conn:
        await conn.execute(
            "update public.healing_schema_migrations set checksum = 'edited' where name = %s", (MIGRATIONS[0],)
        )
        await conn.execute(
            "update public.healing_schema_migrations set checksum = null where name = %s", (MIGRATIONS[1],)
        )
        await conn.execute(
            "insert into public.healing_schema_migrations (name) values ('29990101000000_from_the_future')"
        )
        await conn.commit()
    status = await migration_status(settings_for(pg_db, tmp_path))
    assert status.up_to_date
    assert status.changed == [MIGRATIONS[0]]  # a null checksum means "applied by another tool", not changed
    assert status.unknown == ["29990101000000_from_the_future"]
    assert "Changed after being applied" in status.summary


async def test_migration_status_over_the_supabase_api(
    pg_db: PgDatabase, pg_empty_db: PgDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    from healing_mcp.store.supabase import SupabaseStore

    migrated = PostgrestStandIn(pg_db.authenticator_url)
    empty = PostgrestStandIn(pg_empty_db.authenticator_url)
    transport = migrated
    original = SupabaseStore.from_settings

    def with_transport(s: Any, **kw: Any) -> SupabaseStore:
        return original(s, http_client=httpx.AsyncClient(transport=transport), **kw)

    monkeypatch.setattr(SupabaseStore, "from_settings", staticmethod(with_transport))
    settings = Settings(supabase_url=SUPABASE_URL, supabase_service_role_key=make_key("service_role"), home=tmp_path)
    try:
        status = await migration_status(settings)
        assert status.store == "supabase"
        assert status.up_to_date
        assert [a.name for a in status.applied] == MIGRATIONS
        assert (await migrate(settings, confirm=False)).applied == []

        transport = empty  # no tables yet: everything pending, and DDL cannot run over HTTP
        status = await migration_status(settings)
        assert [f.name for f in status.pending] == MIGRATIONS
        with pytest.raises(StoreError) as refused:
            await migrate(settings, confirm=True)
        assert "set DATABASE_URL" in str(refused.value)
        assert "supabase db push" in str(refused.value)
    finally:
        await migrated.aclose()
        await empty.aclose()


# ------------------------------------------------------------------------------------------ RLS


async def _as(conn: psycopg.AsyncConnection[dict[str, Any]], role: str, sub: str | None = None) -> None:
    """What PostgREST does at the start of each request, inside the request's transaction."""
    await conn.execute(psycopg.sql.SQL("set local role {}").format(psycopg.sql.Identifier(role)))
    claims = {"role": role, **({"sub": sub} if sub else {})}
    await conn.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))


async def _seed(url: str) -> None:
    async with await connect(url) as conn:
        await conn.execute(
            "select public.healing_record_outcome(%s)",
            (
                Jsonb(
                    {
                        "outcome_id": "o1",
                        "issue_signature": "s",
                        "fix_signature": "f",
                        "component": "browser",
                        "strategy": "x",
                        "success": True,
                        "time": "2026-11-01T00:00:00Z",
                    }
                ),
            ),
        )
        await conn.execute("select public.healing_acquire_lease('k', 'h', 60, now())")
        await conn.commit()


@pytest.mark.parametrize("role", ["anon", "authenticated"])
async def test_rls_keeps_api_roles_out_of_every_table(pg_db: PgDatabase, role: str) -> None:
    await _seed(pg_db.url)
    sub = "8f0f7d36-5d0c-4c59-8d5c-6b1f0a5a1e2b" if role == "authenticated" else None
    async with await connect(pg_db.authenticator_url) as conn:
        for table, column in TABLES.items():
            for statement in (
                f"select * from public.{table}",
                f"insert into public.{table} default values",
                f"update public.{table} set {column} = {column}",
                f"delete from public.{table}",
            ):
                async with conn.transaction():
                    await _as(conn, role, sub)
                    with pytest.raises(psycopg.errors.InsufficientPrivilege):
                        async with conn.transaction():  # savepoint: keep the outer transaction usable
                            await conn.execute(statement)
        for call in (
            "select public.healing_best_fixes('s', 5)",
            "select public.healing_acquire_lease('k', 'intruder', 60, now())",
            "select public.healing_store_info()",
        ):
            async with conn.transaction():
                await _as(conn, role, sub)
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for function"):
                    async with conn.transaction():
                        await conn.execute(call)
    async with await connect(pg_db.url) as conn:  # nothing changed
        cur = await conn.execute("select holder from public.healing_leases")
        assert await cur.fetchall() == [{"holder": "h"}]


async def test_rls_still_hides_rows_if_a_grant_comes_back(pg_db: PgDatabase) -> None:
    """Second layer: even with table privileges re-granted (say, by a careless GRANT ALL), row level
    security returns no rows to authenticated users and rejects their writes."""
    await _seed(pg_db.url)
    async with await connect(pg_db.url) as conn:
        await conn.execute("grant select, insert, update, delete on public.healing_memory to authenticated")
        await conn.commit()
    async with await connect(pg_db.authenticator_url) as conn:
        async with conn.transaction():
            await _as(conn, "authenticated", "8f0f7d36-5d0c-4c59-8d5c-6b1f0a5a1e2b")
            cur = await conn.execute("select count(*) as n from public.healing_memory")
            assert await cur.fetchone() == {"n": 0}
            cur = await conn.execute("update public.healing_memory set success_count = 1000")
            assert cur.rowcount == 0
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
                async with conn.transaction():
                    await conn.execute(
                        "insert into public.healing_memory (issue_signature, fix_signature, component, strategy, risk, "
                        "created_at, updated_at) values ('s2', 'f', 'c', 's', 'r', now(), now())"
                    )
        async with conn.transaction():
            await _as(conn, "service_role")
            cur = await conn.execute("select success_count from public.healing_memory")
            assert await cur.fetchall() == [{"success_count": 1}]


async def test_service_role_can_use_the_functions(pg_db: PgDatabase) -> None:
    async with await connect(pg_db.authenticator_url) as conn, conn.transaction():
        await _as(conn, "service_role")
        cur = await conn.execute("select public.healing_acquire_lease('k', 'a', 60, now()) as ok")
        assert await cur.fetchone() == {"ok": True}
        cur = await conn.execute("select public.healing_store_info() as info")
        row = await cur.fetchone()
        assert row is not None
        assert row["info"]["role"] == "service_role"
        assert row["info"]["migrations"] == MIGRATIONS


@pytest.mark.parametrize(("role", "status"), [("anon", 401), ("authenticated", 403)])
async def test_rls_over_http_with_api_keys(pg_db: PgDatabase, role: str, status: int) -> None:
    import httpx

    await _seed(pg_db.url)
    transport = PostgrestStandIn(pg_db.authenticator_url)
    key = make_key(role)
    try:
        async with httpx.AsyncClient(transport=transport, base_url=SUPABASE_URL) as http:
            headers = {"apikey": key, "Authorization": f"Bearer {key}"}
            read = await http.get("/rest/v1/healing_memory", params={"select": "*"}, headers=headers)
            assert read.status_code == status
            assert read.json()["code"] == "42501"
            call = await http.post("/rest/v1/rpc/healing_best_fixes", json={"p_issue_signature": "s"}, headers=headers)
            assert call.status_code == status
            assert call.json()["code"] == "42501"
            service = make_key("service_role")
            ok = await http.get(
                "/rest/v1/healing_memory",
                params={"select": "fix_signature,success_count"},
                headers={"apikey": service, "Authorization": f"Bearer {service}"},
            )
            assert ok.status_code == 200
            assert ok.json() == [{"fix_signature": "f", "success_count": 1}]
    finally:
        await transport.aclose()


# ------------------------------------------------------------------------------------------ functions


async def test_functions_are_security_invoker_with_a_pinned_search_path(pg_db: PgDatabase) -> None:
    async with await connect(pg_db.url) as conn:
        cur = await conn.execute(
            "select p.proname, p.prosecdef, p.proconfig from pg_proc p "
            "where p.pronamespace = 'public'::regnamespace and p.proname like 'healing\\_%'"
        )
        rows = await cur.fetchall()
    assert len(rows) >= 15
    for row in rows:
        assert row["prosecdef"] is False, row["proname"]
        assert row["proconfig"] == ['search_path=""'], row["proname"]


async def test_sql_wilson_lower_bound_equals_python_exactly(pg_db: PgDatabase) -> None:
    grid = list(itertools.product(range(0, 41), range(0, 41)))
    grid += [(s, f) for s in (0, 1, 7, 99, 1000, 123_457, 10**6, 10**9) for f in (0, 1, 3, 100, 999_999, 10**9)]
    async with await connect(pg_db.url) as conn:
        cur = await conn.execute(
            "select s, f, public.healing_wilson_lower_bound(s, f) as score "
            "from unnest(%s::bigint[], %s::bigint[]) as g(s, f)",
            ([s for s, _ in grid], [f for _, f in grid]),
        )
        rows = await cur.fetchall()
    assert len(rows) == len(grid)
    mismatches = [(r["s"], r["f"]) for r in rows if r["score"] != wilson_lower_bound(r["s"], r["f"])]
    assert mismatches == []
    assert (rows[2 * 41]["s"], rows[2 * 41]["f"], round(rows[2 * 41]["score"], 2)) == (2, 0, 0.34)


async def test_sql_severity_ranks_match_the_model(pg_db: PgDatabase) -> None:
    from healing_mcp.core.issues import new_issue

    from .factories import at

    async with await connect(pg_db.url) as conn:
        for severity in Severity:
            issue = new_issue(group(f"sev-{severity.value}", severity=severity), at(0))
            await conn.execute("select public.healing_put_issue(%s)", (Jsonb(issue.model_dump(mode="json")),))
            cur = await conn.execute("select severity_rank from public.healing_issues where id = %s", (issue.id,))
            assert await cur.fetchone() == {"severity_rank": severity.rank}
        await conn.rollback()


async def test_issue_compare_and_swap_detects_a_concurrent_writer(pg_db: PgDatabase) -> None:
    from healing_mcp.core.issues import new_issue

    from .factories import at

    issue = new_issue(group("cas"), at(0)).model_dump(mode="json")
    async with await connect(pg_db.url) as conn:
        cur = await conn.execute("select public.healing_put_issue(%s, 'cas', null) as v", (Jsonb(issue),))
        assert await cur.fetchone() == {"v": 1}
        await conn.commit()
        with pytest.raises(psycopg.errors.SerializationFailure, match="changed by another writer"):
            await conn.execute("select public.healing_put_issue(%s, 'cas', null)", (Jsonb(issue),))  # exists already
        await conn.rollback()
        cur = await conn.execute(
            "select public.healing_put_issue(%s, 'cas', 1) as v", (Jsonb({**issue, "title": "t2"}),)
        )
        assert await cur.fetchone() == {"v": 2}
        await conn.commit()
        with pytest.raises(psycopg.errors.SerializationFailure):
            await conn.execute("select public.healing_put_issue(%s, 'cas', 1)", (Jsonb({**issue, "title": "stale"}),))
        await conn.rollback()
        # identical data is a no-op; 'if_newer' keeps a newer stored copy
        cur = await conn.execute(
            "select public.healing_put_issue(%s, 'overwrite') as v", (Jsonb({**issue, "title": "t2"}),)
        )
        assert await cur.fetchone() == {"v": 2}
        older = {**issue, "title": "old", "updated_at": "2000-01-01T00:00:00Z"}
        cur = await conn.execute("select public.healing_put_issue(%s, 'if_newer') as v", (Jsonb(older),))
        assert await cur.fetchone() == {"v": 2}
        cur = await conn.execute(
            "select data->>'title' as t from public.healing_issues where id = %s", (issue_id("cas"),)
        )
        assert await cur.fetchone() == {"t": "t2"}


async def test_commit_intake_is_atomic_in_the_database(pg_db: PgDatabase) -> None:
    """A failure after the issues were written inside healing_commit_intake rolls everything back."""
    from healing_mcp.store.postgres import PostgresStore

    from .factories import at, batch

    store = PostgresStore(pg_db.url)
    await store.open()
    try:
        bad_mark = {"source": "s", "offset": -1, "fingerprint": "", "updated_at": "2026-11-01T00:00:00Z"}
        async with await connect(pg_db.url) as conn:
            with pytest.raises(psycopg.errors.CheckViolation):  # raised after the issue was written
                await conn.execute(
                    "select * from public.healing_commit_intake(%s, %s, '[]', 3)",
                    (
                        Jsonb([{"issue": json.loads(_new_issue_json("atomic")), "expected_version": None}]),
                        Jsonb([bad_mark]),
                    ),
                )
            await conn.rollback()
        assert await store.get_issue(issue_id("atomic")) is None
        assert (await store.intake_stats()).events_seen == 0
        await store.commit_intake(batch(group("atomic")), now=at(1))
        assert await store.get_issue(issue_id("atomic")) is not None
    finally:
        await store.close()


def _new_issue_json(name: str) -> str:
    from healing_mcp.core.issues import new_issue

    from .factories import at

    return new_issue(group(name), at(0)).model_dump_json()


def test_migration_files_follow_the_supabase_cli_naming() -> None:
    files = migration_files()
    assert len(files) >= 2
    for file in files:
        assert len(file.version) == 14
        assert file.version.isdigit()
        assert Path(file.path).parent.name == "migrations"
        text = Path(file.path).read_text()
        assert "begin;" not in text.lower()  # the CLI and the runner wrap each file in a transaction
        assert f"values ('{file.name}')" in text  # each file records itself in the ledger
