"""Postgres store: healing memory and the loop's state in any PostgreSQL 15+ database (Supabase included).

Selected by ``DATABASE_URL``. Built on psycopg 3 with an ``AsyncConnectionPool`` and written so it also
runs through Supabase's transaction pooler (Supavisor, PgBouncer in transaction mode): no session
state (no ``SET``, no ``LISTEN``, no session advisory locks), no server-side prepared statements
(``prepare_threshold=None``), one transaction per call.

Writes go through the SQL functions of the migrations (``healing_record_outcome``, ``healing_best_fixes``,
``healing_acquire_lease``...), the same ones the Supabase store calls over HTTP, so both update
atomically and rank identically. Issue merging is read-modify-write in one transaction: the issues of a
batch are locked with ``SELECT ... FOR UPDATE`` (in signature order, so concurrent batches cannot
deadlock), merged in Python with :func:`healing_mcp.core.issues.merge_group`, and written back with a
compare-and-swap on their version; a batch that races a brand-new issue is retried from the read.

Errors become :class:`StoreUnavailable` (cannot reach the database: retry later, or spool) or
:class:`StoreError` (configuration or schema problem: the message says what to do), one line each,
with passwords removed.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import psycopg
from psycopg import AsyncConnection, sql
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from healing_mcp.core.issues import merge_group
from healing_mcp.models import (
    AuditEntry,
    HealthIssue,
    IntakeStats,
    IssueState,
    MemoryInsights,
    MemoryRecord,
    PatchSuggestion,
    Watermark,
)
from healing_mcp.redact import redact_text
from healing_mcp.store import sql as shared
from healing_mcp.store.base import (
    IntakeBatch,
    IssueBucket,
    IssuePage,
    IssueQuery,
    OutcomeRecord,
    StoreError,
    StoreUnavailable,
    WatermarkMoved,
    uncounted_record,
)
from healing_mcp.store.retry import on_conflict

T = TypeVar("T")
Conn = AsyncConnection[DictRow]

_SCHEMES = ("postgresql://", "postgres://")
_CONFLICT_STATES = {"40001", "40P01"}  # serialization failure, deadlock: retry the transaction


def _is_conflict(exc: BaseException) -> bool:
    return isinstance(exc, psycopg.Error) and exc.sqlstate in _CONFLICT_STATES


@dataclass(frozen=True)
class DatabaseUrl:
    """A parsed ``DATABASE_URL``: the connection string and a secret-free description."""

    conninfo: str
    host: str
    port: str
    dbname: str

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def description(self) -> str:
        return f"postgres://{self.host}:{self.port}/{self.dbname}"


# The URL form in hints. Written without "user:password@" so that secret redaction, which masks exactly
# that shape, leaves the hint readable.
URL_FORM = "postgresql://USER@HOST:5432/DBNAME, with :PASSWORD after USER"
_ENCODE_HINT = (
    "percent-encode special characters in the password (@ as %40, / as %2F, : as %3A, % as %25, a space as %20)"
)
_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _bad_url(problem: str) -> StoreError:
    # Never quote the URL or libpq's reading of it: either can contain pieces of the password.
    return StoreError(
        f"DATABASE_URL is not a valid Postgres connection string ({problem}): {_ENCODE_HINT}; the form is {URL_FORM}."
    )


def _check_url_form(text: str) -> None:
    """Catch, before libpq reads it, a URL whose password was not percent-encoded. libpq would read such
    a URL as other parts (``user:pa/ss@host`` gives host ``user`` and port ``pa``) and put the pieces
    into its messages."""
    if any(char.isspace() for char in text):
        raise _bad_url("it contains a space")
    rest = text.split("://", 1)[1]
    # like libpq: the user info ends at the first '@', unless a '/' comes first
    cut = min((i for i in (rest.find("@"), rest.find("/")) if i >= 0), default=-1)
    if cut >= 0 and rest[cut] == "@":
        userinfo, rest = rest[:cut], rest[cut + 1 :]
        if _PERCENT.search(userinfo):
            raise _bad_url("it has a % that does not start a percent-encoded character")
    hosts, _, path = rest.partition("/")
    hosts = hosts.split("?", 1)[0]
    if "@" in hosts or "@" in path.split("?", 1)[0]:
        raise _bad_url("it has an @ where the host or database name should be")
    for spec in filter(None, hosts.split(",")):
        if spec.startswith("["):  # [IPv6]:port
            if "]" not in spec:
                raise _bad_url("an IPv6 host is missing its closing ]")
            spec = spec.rsplit("]", 1)[1]
        port = spec.partition(":")[2]
        if port and not port.isdigit():
            raise _bad_url("its port is not a number")


def parse_database_url(url: str) -> DatabaseUrl:
    """Validate ``DATABASE_URL`` (a ``postgresql://`` URL or a ``key=value`` connection string)."""
    text = url.strip()
    if not text:
        raise StoreError(f"DATABASE_URL is empty: set it to {URL_FORM}.")
    if "://" in text and not text.lower().startswith(_SCHEMES):
        scheme = text.split("://", 1)[0][:20]
        raise StoreError(
            f"DATABASE_URL must start with postgresql:// or postgres:// (got {scheme}://): use the Postgres "
            f"connection string; the form is {URL_FORM}."
        )
    if "://" in text:
        _check_url_form(text)
    try:
        params = psycopg.conninfo.conninfo_to_dict(text)
    except psycopg.Error:
        if "://" in text:
            raise _bad_url("libpq cannot parse it") from None
        raise StoreError(
            "DATABASE_URL is not a valid Postgres connection string (libpq cannot parse its key=value pairs): "
            f"put values that contain spaces or quotes in single quotes, or use the form {URL_FORM}."
        ) from None
    ports = str(params.get("port") or "5432")
    if not all(p.isdigit() for p in ports.split(",")):
        raise _bad_url("its port is not a number")
    host = str(params.get("host") or params.get("hostaddr") or "localhost")
    dbname = str(params.get("dbname") or params.get("user") or "postgres")
    return DatabaseUrl(conninfo=text, host=host, port=ports, dbname=dbname)


def _one_line(exc: BaseException, limit: int = 240) -> str:
    """The useful part of a driver message, on one line, secrets removed."""
    text = " ".join(str(exc).split())
    if " failed: " in text:
        text = text.rsplit(" failed: ", 1)[1]
    text = text.removeprefix("FATAL: ").removeprefix("ERROR: ").strip()
    text = redact_text(text or type(exc).__name__)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def connect_error(exc: psycopg.Error, url: DatabaseUrl, timeout: float) -> StoreError:
    """Turn a failed connection attempt into one line that says what to check."""
    reason = _one_line(exc)
    low = reason.lower()
    where = url.where
    if "database" in low and "does not exist" in low:
        return StoreError(
            f"Postgres at {where} has no database {url.dbname!r}: create it or fix the database name in DATABASE_URL."
        )
    if "password authentication failed" in low or "pg_hba.conf" in low or ("role" in low and "does not exist" in low):
        return StoreError(
            f"Postgres at {where} rejected the login in DATABASE_URL ({reason}): check the user name and password."
        )
    if any(
        s in low
        for s in ("resolve host", "translate host name", "name or service not known", "name resolution", "nodename")
    ):
        return StoreUnavailable(f"cannot reach Postgres at {where}: unknown host; check the host in DATABASE_URL.")
    if "connection refused" in low:
        return StoreUnavailable(
            f"cannot reach Postgres at {where}: connection refused; check the host and port in DATABASE_URL "
            "and that the database is running."
        )
    if "timeout" in low or "timed out" in low:
        return StoreUnavailable(
            f"cannot reach Postgres at {where}: no answer within {timeout:g}s; check the host, port and firewall."
        )
    return StoreUnavailable(f"cannot connect to Postgres at {where} ({reason}): check DATABASE_URL.")


class PostgresStore:
    """The :class:`~healing_mcp.store.base.Store` protocol on PostgreSQL."""

    def __init__(
        self,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 8,
        connect_timeout: float = 10.0,
        pool_timeout: float | None = None,
        application_name: str = "healing-mcp",
    ) -> None:
        self._url = parse_database_url(url)
        self._min_size = min_size
        self._max_size = max(max_size, min_size)
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout if pool_timeout is not None else connect_timeout + 5.0
        self._kwargs: dict[str, Any] = {
            "prepare_threshold": None,  # transaction poolers cannot keep prepared statements
            "autocommit": True,  # one statement, one round trip; multi-statement calls use transaction()
            "row_factory": dict_row,
            "connect_timeout": max(1, round(connect_timeout)),
            "application_name": application_name,
        }
        self._pool: AsyncConnectionPool[Conn] | None = None
        self._broken = False  # the connections died: rebuild the pool once the server answers again
        self._reconnect_lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Any) -> PostgresStore:
        secret = settings.database_url
        if secret is None:
            raise StoreError(f"DATABASE_URL is not set: set it to {URL_FORM}.")
        return cls(secret.get_secret_value())

    @property
    def description(self) -> str:
        return self._url.description

    # ------------------------------------------------------------------------------ plumbing

    async def open(self) -> None:
        if self._pool is not None:
            return
        # One direct connection first: it gives the precise reason when the URL is wrong, and checks the
        # schema before the pool starts connecting in the background.
        try:
            conn = await AsyncConnection.connect(self._url.conninfo, **self._kwargs)
        except psycopg.Error as exc:
            raise connect_error(exc, self._url, self._connect_timeout) from None
        try:
            await self._check_schema(conn)
        finally:
            await conn.close()
        self._pool = await self._new_pool()
        self._broken = False

    async def _new_pool(self) -> AsyncConnectionPool[Conn]:
        pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            self._url.conninfo,
            connection_class=AsyncConnection[DictRow],
            kwargs=self._kwargs,
            min_size=self._min_size,
            max_size=self._max_size,
            open=False,
            timeout=self._pool_timeout,
            name="healing-mcp",
        )
        try:
            await pool.open(wait=True, timeout=self._pool_timeout)
        except psycopg.Error as exc:
            await pool.close()
            raise connect_error(exc, self._url, self._connect_timeout) from None
        return pool

    async def _usable_pool(self) -> AsyncConnectionPool[Conn]:
        """The pool, rebuilt after an outage. A pool whose connections died retries in the background with
        a growing backoff; instead, one direct connection attempt tells at once whether the server is back
        (failing fast while it is not), and a fresh pool takes over when it is."""
        if self._pool is None:
            raise StoreError("the Postgres store is closed; open() it first")
        if not self._broken:
            return self._pool
        async with self._reconnect_lock:
            if self._broken and self._pool is not None:
                try:
                    conn = await AsyncConnection.connect(self._url.conninfo, **self._kwargs)
                except psycopg.Error as exc:
                    raise connect_error(exc, self._url, self._connect_timeout) from None
                await conn.close()
                old, self._pool = self._pool, await self._new_pool()
                self._broken = False
                await old.close(timeout=1.0)
        if self._pool is None:
            raise StoreError("the Postgres store is closed; open() it first")
        return self._pool

    async def _check_schema(self, conn: Conn) -> None:
        from healing_mcp.store.migrate import migration_files

        try:
            cur = await conn.execute(
                "select to_regclass('public.healing_memory') is not null as tables, "
                "to_regprocedure('public.healing_store_info()') is not null as info"
            )
            row = await cur.fetchone()
            if row is None or not row["tables"] or not row["info"]:
                raise StoreError(shared.missing_schema_message(self.description))
            cur = await conn.execute("select public.healing_store_info() as info")
            info = await cur.fetchone()
        except psycopg.Error as exc:
            raise self._error(exc) from None
        applied = set(info["info"].get("migrations", [])) if info else set()
        pending = [f.name for f in migration_files() if f.name not in applied]
        if pending:
            raise StoreError(shared.outdated_schema_message(self.description, pending))

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    def _error(self, exc: psycopg.Error) -> StoreError:
        state = getattr(exc, "sqlstate", None) or ""
        reason = _one_line(exc)
        if state == shared.WATERMARK_MOVED:
            return WatermarkMoved(f"intake in {self.description}: {reason}")
        if state in ("42P01", "42883", "3F000"):
            return StoreError(shared.missing_schema_message(self.description))
        if state == "42501":
            return StoreError(
                f"the DATABASE_URL user may not use the healing tables in {self.description} ({reason}): connect "
                "as the role that ran the migrations (postgres on Supabase) or a member of service_role."
            )
        if isinstance(exc, psycopg.OperationalError) or state[:2] in ("08", "53", "57", "58"):
            return StoreUnavailable(f"Postgres at {self._url.where} is unavailable ({reason}); retry later.")
        return StoreError(f"Postgres store error in {self.description}: {reason}")

    async def _run(self, fn: Callable[[Conn], Awaitable[T]], *, transaction: bool = False) -> T:
        """Run ``fn`` on a pooled connection.

        Connections are in autocommit mode: a call that is one statement (most are: one SQL function call)
        is one implicit transaction and one round trip. ``transaction=True`` wraps ``fn`` in BEGIN/COMMIT
        for calls made of several statements. Retries a transaction that lost a race (40001/40P01), and
        once when the connection turned out to be dead: single statements are all idempotent, and a
        transaction is retried only if the failure came before its COMMIT."""
        pool = await self._usable_pool()
        stale_retry = True
        try:
            async for attempt in on_conflict(_is_conflict, first_wait=0.002):
                with attempt:
                    while True:
                        committing = False
                        try:
                            async with pool.connection() as conn:
                                if transaction:
                                    async with conn.transaction():
                                        result = await fn(conn)
                                        committing = True
                                else:
                                    result = await fn(conn)
                            return result
                        except psycopg.Error as exc:
                            broken = isinstance(exc, psycopg.OperationalError) and exc.sqlstate is None
                            pool_error = type(exc).__module__.startswith("psycopg_pool")
                            if broken and not pool_error and not committing and stale_retry:
                                stale_retry = False  # a dead pooled connection; nothing was committed: once more
                                continue
                            raise
        except psycopg.Error as exc:
            error = self._error(exc)
            if isinstance(error, StoreUnavailable) and not _is_conflict(exc):
                self._broken = True
            raise error from None
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    async def _fetchall(conn: Conn, query: str | sql.Composed, params: Any = None) -> list[DictRow]:
        cur = await conn.execute(query, params)
        return await cur.fetchall()

    @staticmethod
    async def _fetchone(conn: Conn, query: str | sql.Composed, params: Any = None) -> DictRow | None:
        cur = await conn.execute(query, params)
        return await cur.fetchone()

    async def _scalar(self, query: str, params: Any = None) -> Any:
        async def q(conn: Conn) -> Any:
            row = await self._fetchone(conn, query, params)
            return None if row is None else next(iter(row.values()))

        return await self._run(q)

    # ------------------------------------------------------------------------------ intake

    async def get_watermark(self, source: str) -> Watermark | None:
        async def q(conn: Conn) -> Watermark | None:
            row = await self._fetchone(
                conn,
                'select source, "offset", fingerprint, updated_at from public.healing_watermarks where source = %s',
                (source,),
            )
            return None if row is None else Watermark.model_validate(dict(row))

        return await self._run(q)

    async def commit_intake(self, batch: IntakeBatch, *, now: datetime) -> list[HealthIssue]:
        signatures = sorted({group.signature for group in batch.groups})
        watermarks = Jsonb(shared.watermark_payload(batch))

        async def tx(conn: Conn) -> list[HealthIssue]:
            current: dict[str, tuple[int | None, HealthIssue]] = {}
            if signatures:
                rows = await self._fetchall(
                    conn,
                    "select signature, version, data from public.healing_issues where signature = any(%s) "
                    "order by signature for update",
                    (signatures,),
                )
                for row in rows:
                    current[row["signature"]] = (row["version"], HealthIssue.model_validate(row["data"]))
            expected = {sig: version for sig, (version, _) in current.items()}
            merged: dict[str, HealthIssue] = {sig: issue for sig, (_, issue) in current.items()}
            touched: list[HealthIssue] = []
            for group in batch.groups:
                issue = merge_group(merged.get(group.signature), group, now)
                merged[group.signature] = issue
                touched.append(issue)
            items = [
                {"issue": shared.issue_payload(merged[sig]), "expected_version": expected.get(sig)}
                for sig in signatures
            ]
            await conn.execute(
                "select * from public.healing_commit_intake(%s, %s, %s, %s)",
                (
                    Jsonb(items),
                    watermarks,
                    Jsonb([line.model_dump(mode="json") for line in batch.quarantined]),
                    batch.events,
                ),
            )
            return touched

        return await self._run(tx, transaction=True)

    async def intake_stats(self, recent: int = 5) -> IntakeStats:
        data = await self._scalar("select public.healing_intake_stats(%s)", (recent,))
        return IntakeStats.model_validate(data)

    # ------------------------------------------------------------------------------ issues

    async def get_issue(self, issue_id: str) -> HealthIssue | None:
        data = await self._scalar("select data from public.healing_issues where id = %s", (issue_id,))
        return None if data is None else HealthIssue.model_validate(data)

    async def save_issue(self, issue: HealthIssue) -> None:
        await self._scalar("select public.healing_put_issue(%s, 'overwrite')", (Jsonb(shared.issue_payload(issue)),))

    async def restore_issue(self, issue: HealthIssue) -> None:
        """Write ``issue`` unless the stored one was updated later (used when replaying a spool)."""
        await self._scalar("select public.healing_put_issue(%s, 'if_newer')", (Jsonb(shared.issue_payload(issue)),))

    @staticmethod
    def _where(
        component: str | None, states: list[IssueState] | None, since: datetime | None, min_rank: int | None
    ) -> tuple[sql.Composable, list[Any]]:
        clauses: list[sql.Composable] = []
        params: list[Any] = []
        if component is not None:
            clauses.append(sql.SQL("component = %s"))
            params.append(component)
        if states:
            clauses.append(sql.SQL("state = any(%s)"))
            params.append([state.value for state in states])
        if since is not None:
            clauses.append(sql.SQL("last_seen >= %s"))
            params.append(since)
        if min_rank is not None:
            clauses.append(sql.SQL("severity_rank >= %s"))
            params.append(min_rank)
        if not clauses:
            return sql.SQL(""), params
        return sql.SQL(" where ") + sql.SQL(" and ").join(clauses), params

    async def query_issues(self, query: IssueQuery) -> IssuePage:
        rank = query.min_severity.rank if query.min_severity is not None else None
        where, params = self._where(query.component, query.states, query.since, rank)

        async def q(conn: Conn) -> IssuePage:
            total_row = await self._fetchone(
                conn, sql.SQL("select count(*) as total from public.healing_issues") + where, params
            )
            rows = await self._fetchall(
                conn,
                sql.SQL("select data from public.healing_issues")
                + where
                + sql.SQL(" order by is_resolved, severity_rank desc, last_seen desc, id limit %s offset %s"),
                [*params, max(query.limit, 0), max(query.offset, 0)],
            )
            return IssuePage(
                issues=[HealthIssue.model_validate(row["data"]) for row in rows],
                total=int(total_row["total"]) if total_row else 0,
            )

        return await self._run(q)

    async def issue_buckets(
        self, *, component: str | None, since: datetime | None, recent_since: datetime
    ) -> list[IssueBucket]:
        async def q(conn: Conn) -> list[IssueBucket]:
            rows = await self._fetchall(
                conn, "select * from public.healing_issue_buckets(%s, %s, %s)", (component, since, recent_since)
            )
            return shared.issue_buckets(rows)

        return await self._run(q)

    # ------------------------------------------------------------------------------ leases

    async def acquire_lease(self, key: str, holder: str, ttl_seconds: float, *, now: datetime | None = None) -> bool:
        # now=None: the database's clock decides (supervisors' clocks may disagree)
        return bool(
            await self._scalar(
                "select public.healing_acquire_lease(%s, %s, %s, %s)", (key, holder, float(ttl_seconds), now)
            )
        )

    async def release_lease(self, key: str, holder: str) -> None:
        await self._scalar("select public.healing_release_lease(%s, %s)", (key, holder))

    async def claim_issues(
        self, states: list[IssueState], limit: int, holder: str, ttl_seconds: float, *, now: datetime | None = None
    ) -> list[HealthIssue]:
        async def tx(conn: Conn) -> list[HealthIssue]:
            rows = await self._fetchall(
                conn,
                "select public.healing_claim_issues(%s, %s, %s, %s, %s) as data",
                ([s.value for s in states], limit, holder, float(ttl_seconds), now),
            )
            return [HealthIssue.model_validate(row["data"]) for row in rows]

        return await self._run(tx, transaction=True)

    # ------------------------------------------------------------------------------ audit

    async def append_audit(self, entry: AuditEntry) -> int:
        return int(await self._scalar("select public.healing_append_audit(%s)", (Jsonb(shared.audit_payload(entry)),)))

    async def finish_attempt(self, entry: AuditEntry, outcome: OutcomeRecord) -> MemoryRecord:
        async def tx(conn: Conn) -> MemoryRecord:
            row = await self._fetchone(
                conn,
                "select * from public.healing_finish_attempt(%s, %s)",
                (Jsonb(shared.audit_payload(entry)), Jsonb(shared.outcome_payload(outcome))),
            )
            return uncounted_record(outcome) if row is None else shared.memory_record(row)

        return await self._run(tx)

    async def list_audit(self, issue_id: str | None = None, limit: int = 100) -> list[AuditEntry]:
        async def q(conn: Conn) -> list[AuditEntry]:
            if issue_id is None:
                rows = await self._fetchall(
                    conn, "select seq, data from public.healing_audit_log order by seq desc limit %s", (limit,)
                )
            else:
                rows = await self._fetchall(
                    conn,
                    "select seq, data from public.healing_audit_log where issue_id = %s order by seq desc limit %s",
                    (issue_id, limit),
                )
            return [shared.audit_entry(row["seq"], row["data"]) for row in reversed(rows)]

        return await self._run(q)

    async def unfinished_attempts(self) -> list[AuditEntry]:
        async def q(conn: Conn) -> list[AuditEntry]:
            rows = await self._fetchall(conn, "select seq, data from public.healing_unfinished_attempts()")
            return [shared.audit_entry(row["seq"], row["data"]) for row in rows]

        return await self._run(q)

    # ------------------------------------------------------------------------------ memory

    async def record_outcome(self, outcome: OutcomeRecord) -> MemoryRecord:
        async def tx(conn: Conn) -> MemoryRecord:
            row = await self._fetchone(
                conn, "select * from public.healing_record_outcome(%s)", (Jsonb(shared.outcome_payload(outcome)),)
            )
            assert row is not None
            return shared.memory_record(row)

        return await self._run(tx)

    async def best_fixes(self, issue_signature: str, limit: int = 5) -> list[MemoryRecord]:
        async def q(conn: Conn) -> list[MemoryRecord]:
            rows = await self._fetchall(
                conn, "select * from public.healing_best_fixes(%s, %s)", (issue_signature, limit)
            )
            return [shared.memory_record(row) for row in rows]

        return await self._run(q)

    async def memory_insights(self, limit: int = 10) -> MemoryInsights:
        data = await self._scalar("select public.healing_memory_insights(%s)", (limit,))
        return shared.memory_insights(data)

    # ------------------------------------------------------------------------------ patches

    async def save_patch(self, patch: PatchSuggestion) -> None:
        await self._scalar("select public.healing_save_patch(%s)", (Jsonb(shared.patch_payload(patch)),))

    async def list_patches(self, issue_id: str | None = None, component: str | None = None) -> list[PatchSuggestion]:
        clauses: list[sql.Composable] = []
        params: list[Any] = []
        if issue_id is not None:
            clauses.append(sql.SQL("issue_id = %s"))
            params.append(issue_id)
        if component is not None:
            clauses.append(sql.SQL("component = %s"))
            params.append(component)
        where = sql.SQL(" where ") + sql.SQL(" and ").join(clauses) if clauses else sql.SQL("")

        async def q(conn: Conn) -> list[PatchSuggestion]:
            rows = await self._fetchall(
                conn,
                sql.SQL("select data from public.healing_patches") + where + sql.SQL(" order by created_at desc, id"),
                params,
            )
            return [PatchSuggestion.model_validate(row["data"]) for row in rows]

        return await self._run(q)
