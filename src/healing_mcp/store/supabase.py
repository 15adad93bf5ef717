"""Supabase store: the same tables and SQL functions as the Postgres store, reached over Supabase's HTTP
API (PostgREST) with supabase-py.

Selected by ``SUPABASE_URL`` + ``SUPABASE_SERVICE_ROLE_KEY`` (and no ``DATABASE_URL``). Every write is
one ``rpc`` call to a SQL function of the migrations, so it is atomic server-side and ranks exactly like
the Postgres store. Reads use the table endpoints (``GET /rest/v1/healing_issues?select=...``) or an
``rpc`` where PostgREST cannot express the query (aggregates, NOT EXISTS).

Issue merging cannot hold a row lock across HTTP calls, so ``commit_intake`` is optimistic: read the
issues and their versions, merge with :func:`healing_mcp.core.issues.merge_group`, then one
``healing_commit_intake`` call writes issues (compare-and-swap on version), watermarks, quarantine and
counters in one transaction; a lost race (SQLSTATE 40001) starts over from the read.

The tables are readable by ``service_role`` only (row level security), so the key must be the
project's service_role (or ``sb_secret_...``) key; an ``anon`` key is refused before any request.
supabase-py is imported when the store is opened, never at server start.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

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

_READ_CHUNK = 100  # signatures per GET, keeps URLs short
_PAGE = 1000  # PostgREST caps each response at its max-rows (1000 on Supabase): longer answers are paged
_MISSING = {"PGRST202", "PGRST205", "PGRST204", "42P01", "42883"}
_UNAVAILABLE = {"PGRST000", "PGRST001", "PGRST002", "500", "502", "503", "504", "520", "522", "523", "524"}
_KEY_HELP = "copy the service_role key from the Supabase dashboard (Project Settings > API Keys)"


class _Conflict(StoreError):
    """A compare-and-swap or deadlock lost a race (SQLSTATE 40001/40P01): retry from the read."""


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def parse_supabase_url(url: str) -> str:
    """Validate ``SUPABASE_URL`` and return the project URL without a trailing slash or /rest/v1."""
    text = url.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        # Never echo the value: it may be the key itself (the two variables swapped).
        if _looks_like_key(text):
            got = "it holds an API key: SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY look swapped"
        elif not text:
            got = "it is empty"
        elif "://" in text and text.split("://", 1)[0].isalpha():
            got = f"its scheme is {text.split('://', 1)[0][:10].lower()}://"
        else:
            got = "it has no http:// or https:// scheme"
        raise StoreError(
            f"SUPABASE_URL must be the project's http(s) URL, like https://<project-ref>.supabase.co ({got})."
        )
    text = text.removesuffix("/rest/v1")
    return text


def _looks_like_key(text: str) -> bool:
    return text.startswith(("eyJ", "sb_secret_", "sb_publishable_"))


def check_service_key(key: str) -> None:
    """Refuse keys that cannot be the service_role key, without sending them anywhere."""
    key = key.strip()
    if not key:
        raise StoreError(f"SUPABASE_SERVICE_ROLE_KEY is empty: {_KEY_HELP}.")
    if key.lower().startswith(("http://", "https://")):
        raise StoreError(
            "SUPABASE_SERVICE_ROLE_KEY holds a URL, not a key: SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY look "
            f"swapped; {_KEY_HELP}."
        )
    if key.startswith("sb_secret_"):
        return
    if key.startswith("sb_publishable_"):
        raise StoreError(
            f"SUPABASE_SERVICE_ROLE_KEY holds a publishable (client) key, which cannot read the healing tables: "
            f"use a secret key (sb_secret_...) or {_KEY_HELP}."
        )
    parts = key.split(".")
    claims: Any = None
    if len(parts) == 3:
        try:
            claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        except (ValueError, binascii.Error):
            claims = None
    if not isinstance(claims, dict):
        raise StoreError(
            "SUPABASE_SERVICE_ROLE_KEY is not a Supabase API key (expected a JWT or sb_secret_...): " + _KEY_HELP + "."
        )
    role = claims.get("role")
    if role != "service_role":
        raise StoreError(
            f"SUPABASE_SERVICE_ROLE_KEY is not a service_role key (its role claim is {role!r}): {_KEY_HELP}."
        )


class SupabaseStore:
    """The :class:`~healing_mcp.store.base.Store` protocol over Supabase's REST API.

    ``http_client`` replaces the HTTP client supabase-py uses (its transport decides where requests go);
    by default one is created with ``timeout`` seconds per request.
    """

    def __init__(
        self,
        url: str,
        key: str,
        *,
        http_client: httpx.AsyncClient | None = None,
        timeout: float = 15.0,
        schema: str = "public",
    ) -> None:
        self._url = parse_supabase_url(url)
        self._key = key.strip()
        self._http = http_client
        self._owns_http = http_client is None
        self._timeout = timeout
        self._schema = schema
        self._client: Any = None
        self._opened = False
        parts = urlsplit(self._url)
        self._where = f"{parts.scheme}://{parts.netloc}"

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> SupabaseStore:
        if settings.supabase_url is None:
            raise StoreError("SUPABASE_URL is not set: set it to https://<project-ref>.supabase.co.")
        if settings.supabase_service_role_key is None:
            raise StoreError(f"SUPABASE_URL is set but SUPABASE_SERVICE_ROLE_KEY is not: {_KEY_HELP}.")
        return cls(settings.supabase_url, settings.supabase_service_role_key.get_secret_value(), **kwargs)

    @property
    def description(self) -> str:
        return f"supabase:{self._where}"

    # ------------------------------------------------------------------------------ plumbing

    def _ensure_client(self) -> Any:
        if self._client is not None:
            return self._client
        check_service_key(self._key)
        from supabase import AsyncClient, AsyncClientOptions

        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self._timeout, follow_redirects=True)
        options = AsyncClientOptions(
            schema=self._schema,
            httpx_client=self._http,
            auto_refresh_token=False,
            persist_session=False,
            postgrest_client_retry=False,  # an outage is reported at once; the spool deals with it
        )
        try:
            self._client = AsyncClient(self._url, self._key, options)
        except Exception as exc:  # supabase-py validates url and key shape
            raise StoreError(f"cannot create the Supabase client for {self._where}: {redact_text(str(exc))}") from None
        return self._client

    async def open(self) -> None:
        if self._opened:
            return
        from healing_mcp.store.migrate import migration_files

        self._ensure_client()
        try:
            info = await self._rpc("healing_store_info", {})
        except BaseException:
            await self.close()
            raise
        role = info.get("role") if isinstance(info, dict) else None
        if role not in ("service_role", "postgres", "supabase_admin"):
            await self.close()
            raise StoreError(
                f"Supabase at {self._where} runs requests with SUPABASE_SERVICE_ROLE_KEY as {role!r}, not "
                f"service_role: {_KEY_HELP}."
            )
        applied = set(info.get("migrations", []))
        pending = [f.name for f in migration_files() if f.name not in applied]
        if pending:
            await self.close()
            raise StoreError(shared.outdated_schema_message(self.description, pending))
        self._opened = True

    async def close(self) -> None:
        self._client = None
        self._opened = False
        if self._http is not None and self._owns_http:
            http, self._http = self._http, None
            await http.aclose()

    def _api_error(self, exc: Exception) -> StoreError:
        code = str(getattr(exc, "code", "") or "")
        message = redact_text(" ".join(str(getattr(exc, "message", "") or exc).split()))[:240]
        low = message.lower()
        if code in ("40001", "40P01"):
            return _Conflict(f"Supabase at {self._where}: a concurrent write won ({code}: {message}).")
        if code == shared.WATERMARK_MOVED:
            return WatermarkMoved(f"intake in {self.description}: {message}")
        if code in _MISSING:
            return StoreError(shared.missing_schema_message(self.description))
        if code in ("PGRST301", "PGRST302", "PGRST303", "401") or "invalid api key" in low or "jwt" in low:
            return StoreError(
                f"Supabase at {self._where} rejected SUPABASE_SERVICE_ROLE_KEY ({code or 'no code'}: {message}): "
                f"check that the key belongs to this project; {_KEY_HELP}."
            )
        if code == "42501":
            return StoreError(
                f"Supabase at {self._where} denied access to the healing tables ({message}): SUPABASE_SERVICE_ROLE_KEY "
                f"must be the service_role key; {_KEY_HELP}."
            )
        if code == "404":
            return StoreError(
                f"{self._where} does not answer like a Supabase project (404 from /rest/v1): check SUPABASE_URL."
            )
        if code in _UNAVAILABLE or code[:2] in ("08", "53", "57"):
            return StoreUnavailable(f"Supabase at {self._where} is unavailable ({code}: {message}); retry later.")
        return StoreError(f"Supabase store error at {self._where} ({code or 'no code'}: {message}).")

    async def _call(self, request: Callable[[Any], Awaitable[Any]]) -> Any:
        from postgrest.exceptions import APIError

        client = self._client
        if client is None:
            raise StoreError("the Supabase store is closed; open() it first")
        try:
            return await request(client)
        except APIError as exc:
            raise self._api_error(exc) from None
        except httpx.TimeoutException:
            raise StoreUnavailable(
                f"Supabase at {self._where} did not answer within {self._timeout:g}s: "
                "check SUPABASE_URL and the network."
            ) from None
        except httpx.TransportError as exc:
            reason = redact_text(" ".join(str(exc).split()))[:160] or type(exc).__name__
            raise StoreUnavailable(
                f"cannot reach Supabase at {self._where} ({reason}): check SUPABASE_URL and the network."
            ) from None

    async def _rpc(self, fn: str, params: dict[str, Any]) -> Any:
        async def request(client: Any) -> Any:
            response = await client.rpc(fn, params).execute()
            return response.data

        return await self._call(request)

    async def _rows(self, build: Callable[[Any], Any]) -> Any:
        async def request(client: Any) -> Any:
            return await build(client).execute()

        return await self._call(request)

    async def _paged(
        self, build: Callable[[Any], Any], *, limit: int | None = None, offset: int = 0
    ) -> tuple[list[Any], int]:
        """Every row of a table GET or set-returning rpc (``build`` asks for ``count="exact"``), fetched
        page by page until ``limit`` rows or the total. Returns (rows, total)."""
        rows: list[Any] = []
        total: int | None = None
        while True:
            start = offset + len(rows)
            want = _PAGE if limit is None else min(_PAGE, limit - len(rows))

            def page(c: Any, start: int = start, want: int = want) -> Any:
                query = build(c)
                return query.range(start, start + want - 1) if want > 0 else query.limit(0)

            response = await self._rows(page)
            if response.count is not None:
                total = int(response.count)
            rows.extend(response.data)
            done = total is None or offset + len(rows) >= total or (limit is not None and len(rows) >= limit)
            if done or not response.data:
                break
        return rows, total if total is not None else offset + len(rows)

    async def _retrying(self, fn: Callable[[], Awaitable[T]]) -> T:
        async for attempt in on_conflict(lambda exc: isinstance(exc, _Conflict), first_wait=0.005):
            with attempt:
                return await fn()
        raise AssertionError("unreachable")  # pragma: no cover

    async def read_ledger(self) -> list[dict[str, Any]]:
        """Rows of ``healing_schema_migrations`` ([] when the schema is not there yet)."""
        self._ensure_client()
        try:
            response = await self._rows(
                lambda c: (
                    c.table("healing_schema_migrations").select("name,checksum,applied_at,applied_by").order("name")
                )
            )
        except StoreError as exc:
            if str(exc) == shared.missing_schema_message(self.description):
                return []
            raise
        return list(response.data)

    # ------------------------------------------------------------------------------ intake

    async def get_watermark(self, source: str) -> Watermark | None:
        response = await self._rows(
            lambda c: c.table("healing_watermarks").select("source,offset,fingerprint,updated_at").eq("source", source)
        )
        return Watermark.model_validate(response.data[0]) if response.data else None

    async def _issues_by_signature(self, signatures: list[str]) -> dict[str, tuple[int, HealthIssue]]:
        found: dict[str, tuple[int, HealthIssue]] = {}
        for start in range(0, len(signatures), _READ_CHUNK):
            chunk = signatures[start : start + _READ_CHUNK]

            def build(c: Any, chunk: list[str] = chunk) -> Any:
                return c.table("healing_issues").select("signature,version,data").in_("signature", chunk)

            response = await self._rows(build)
            for row in response.data:
                found[row["signature"]] = (int(row["version"]), HealthIssue.model_validate(row["data"]))
        return found

    async def commit_intake(self, batch: IntakeBatch, *, now: datetime) -> list[HealthIssue]:
        signatures = sorted({group.signature for group in batch.groups})
        watermarks = shared.watermark_payload(batch)
        quarantined = [line.model_dump(mode="json") for line in batch.quarantined]

        async def attempt() -> list[HealthIssue]:
            current = await self._issues_by_signature(signatures)
            merged = {sig: issue for sig, (_, issue) in current.items()}
            touched: list[HealthIssue] = []
            for group in batch.groups:
                issue = merge_group(merged.get(group.signature), group, now)
                merged[group.signature] = issue
                touched.append(issue)
            items = [
                {
                    "issue": shared.issue_payload(merged[sig]),
                    "expected_version": current[sig][0] if sig in current else None,
                }
                for sig in signatures
            ]
            await self._rpc(
                "healing_commit_intake",
                {"p_issues": items, "p_watermarks": watermarks, "p_quarantined": quarantined, "p_events": batch.events},
            )
            return touched

        return await self._retrying(attempt)

    async def intake_stats(self, recent: int = 5) -> IntakeStats:
        return IntakeStats.model_validate(await self._rpc("healing_intake_stats", {"p_recent": recent}))

    # ------------------------------------------------------------------------------ issues

    async def get_issue(self, issue_id: str) -> HealthIssue | None:
        response = await self._rows(lambda c: c.table("healing_issues").select("data").eq("id", issue_id))
        return HealthIssue.model_validate(response.data[0]["data"]) if response.data else None

    async def save_issue(self, issue: HealthIssue) -> None:
        await self._rpc("healing_put_issue", {"p_issue": shared.issue_payload(issue), "p_mode": "overwrite"})

    async def restore_issue(self, issue: HealthIssue) -> None:
        """Write ``issue`` unless the stored one was updated later (used when replaying a spool)."""
        await self._rpc("healing_put_issue", {"p_issue": shared.issue_payload(issue), "p_mode": "if_newer"})

    async def query_issues(self, query: IssueQuery) -> IssuePage:
        def build(c: Any) -> Any:
            q = c.table("healing_issues").select("data", count="exact")
            if query.component is not None:
                q = q.eq("component", query.component)
            if query.states:
                q = q.in_("state", [state.value for state in query.states])
            if query.since is not None:
                q = q.gte("last_seen", query.since.isoformat())
            if query.min_severity is not None:
                q = q.gte("severity_rank", query.min_severity.rank)
            return q.order("is_resolved").order("severity_rank", desc=True).order("last_seen", desc=True).order("id")

        rows, total = await self._paged(build, limit=max(query.limit, 0), offset=max(query.offset, 0))
        return IssuePage(issues=[HealthIssue.model_validate(row["data"]) for row in rows], total=total)

    async def issue_buckets(
        self, *, component: str | None, since: datetime | None, recent_since: datetime
    ) -> list[IssueBucket]:
        rows = await self._rpc(
            "healing_issue_buckets",
            {"p_component": component, "p_since": _iso(since), "p_recent_since": _iso(recent_since)},
        )
        return shared.issue_buckets(rows)

    # ------------------------------------------------------------------------------ leases

    async def acquire_lease(self, key: str, holder: str, ttl_seconds: float, *, now: datetime | None = None) -> bool:
        # now=None is sent as null: the database's clock decides (supervisors' clocks may disagree)
        return bool(
            await self._rpc(
                "healing_acquire_lease",
                {"p_key": key, "p_holder": holder, "p_ttl_seconds": float(ttl_seconds), "p_now": _iso(now)},
            )
        )

    async def release_lease(self, key: str, holder: str) -> None:
        await self._rpc("healing_release_lease", {"p_key": key, "p_holder": holder})

    async def claim_issues(
        self, states: list[IssueState], limit: int, holder: str, ttl_seconds: float, *, now: datetime | None = None
    ) -> list[HealthIssue]:
        # One response must carry every claimed issue, so stay within PostgREST's max-rows.
        rows = await self._rpc(
            "healing_claim_issues",
            {
                "p_states": [state.value for state in states],
                "p_limit": min(limit, _PAGE),
                "p_holder": holder,
                "p_ttl_seconds": float(ttl_seconds),
                "p_now": _iso(now),
            },
        )
        return [HealthIssue.model_validate(data) for data in rows]

    # ------------------------------------------------------------------------------ audit

    async def append_audit(self, entry: AuditEntry) -> int:
        return int(await self._rpc("healing_append_audit", {"p_entry": shared.audit_payload(entry)}))

    async def finish_attempt(self, entry: AuditEntry, outcome: OutcomeRecord) -> MemoryRecord:
        rows = await self._rpc(
            "healing_finish_attempt",
            {"p_entry": shared.audit_payload(entry), "p_outcome": shared.outcome_payload(outcome)},
        )
        return shared.memory_record(rows[0]) if rows else uncounted_record(outcome)

    async def list_audit(self, issue_id: str | None = None, limit: int = 100) -> list[AuditEntry]:
        def build(c: Any) -> Any:
            q = c.table("healing_audit_log").select("seq,data", count="exact")
            if issue_id is not None:
                q = q.eq("issue_id", issue_id)
            return q.order("seq", desc=True)

        rows, _ = await self._paged(build, limit=max(limit, 0))
        return [shared.audit_entry(row["seq"], row["data"]) for row in reversed(rows)]

    async def unfinished_attempts(self) -> list[AuditEntry]:
        rows, _ = await self._paged(lambda c: c.rpc("healing_unfinished_attempts", {}, count="exact"))
        return [shared.audit_entry(row["seq"], row["data"]) for row in rows]

    # ------------------------------------------------------------------------------ memory

    async def record_outcome(self, outcome: OutcomeRecord) -> MemoryRecord:
        rows = await self._rpc("healing_record_outcome", {"p_outcome": shared.outcome_payload(outcome)})
        return shared.memory_record(rows[0])

    async def best_fixes(self, issue_signature: str, limit: int = 5) -> list[MemoryRecord]:
        rows = await self._rpc("healing_best_fixes", {"p_issue_signature": issue_signature, "p_limit": limit})
        return [shared.memory_record(row) for row in rows]

    async def memory_insights(self, limit: int = 10) -> MemoryInsights:
        return shared.memory_insights(await self._rpc("healing_memory_insights", {"p_limit": limit}))

    # ------------------------------------------------------------------------------ patches

    async def save_patch(self, patch: PatchSuggestion) -> None:
        await self._rpc("healing_save_patch", {"p_patch": shared.patch_payload(patch)})

    async def list_patches(self, issue_id: str | None = None, component: str | None = None) -> list[PatchSuggestion]:
        def build(c: Any) -> Any:
            q = c.table("healing_patches").select("data", count="exact")
            if issue_id is not None:
                q = q.eq("issue_id", issue_id)
            if component is not None:
                q = q.eq("component", component)
            return q.order("created_at", desc=True).order("id")

        rows, _ = await self._paged(build)
        return [PatchSuggestion.model_validate(row["data"]) for row in rows]
