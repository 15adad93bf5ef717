"""What the Postgres and Supabase stores share: payloads sent to the SQL functions and row decoding.

Both remote stores call the same SQL functions (``supabase/migrations/*_healing_store_functions.sql``),
one over a database connection, the other over PostgREST ``rpc``. The JSON they send is the pydantic
JSON of the models, and rows come back as mappings (psycopg ``dict_row`` or PostgREST JSON), so the
conversions live here once. No database driver is imported by this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from healing_mcp.models import (
    AuditEntry,
    HealthIssue,
    IssueState,
    MemoryInsights,
    MemoryRecord,
    PatchSuggestion,
    Severity,
)
from healing_mcp.store.base import IntakeBatch, IssueBucket, OutcomeRecord

SEVERITY_BY_RANK: dict[int, Severity] = {severity.rank: severity for severity in Severity}

# Objects a migrated database has; the stores check a few of them on open.
TABLES = (
    "healing_schema_migrations",
    "healing_issues",
    "healing_watermarks",
    "healing_quarantine",
    "healing_counters",
    "healing_leases",
    "healing_audit_log",
    "healing_memory",
    "healing_memory_outcomes",
    "healing_patches",
)

# SQLSTATE raised by healing_commit_intake when a watermark moved since the batch was read.
WATERMARK_MOVED = "HW001"

MIGRATE_HINT = "run `healing-mcp db migrate` (or apply supabase/migrations with `supabase db push`)"


def missing_schema_message(where: str) -> str:
    return f"the healing-mcp tables are missing in {where}: {MIGRATE_HINT} to create them."


def outdated_schema_message(where: str, pending: Iterable[str]) -> str:
    names = ", ".join(pending)
    return f"the healing-mcp schema in {where} is behind this version (pending: {names}): {MIGRATE_HINT}."


# ------------------------------------------------------------------------------------------ payloads


def issue_payload(issue: HealthIssue) -> dict[str, Any]:
    return issue.model_dump(mode="json")


def watermark_payload(batch: IntakeBatch) -> list[dict[str, Any]]:
    """The batch's watermarks for healing_commit_intake, each with the stored value it must replace
    (``expected``; null: none may exist) when the batch names one."""
    items = []
    for mark in batch.watermarks:
        item = mark.model_dump(mode="json")
        if mark.source in batch.expected:
            before = batch.expected[mark.source]
            item["expected"] = None if before is None else {"offset": before.offset, "fingerprint": before.fingerprint}
        items.append(item)
    return items


def outcome_payload(outcome: OutcomeRecord) -> dict[str, Any]:
    return outcome.model_dump(mode="json")


def audit_payload(entry: AuditEntry) -> dict[str, Any]:
    return entry.model_dump(mode="json", exclude={"seq"})


def patch_payload(patch: PatchSuggestion) -> dict[str, Any]:
    return patch.model_dump(mode="json")


# ------------------------------------------------------------------------------------------ rows


def memory_record(row: Mapping[str, Any]) -> MemoryRecord:
    """A healing_memory row (with the SQL-computed ``score``) as a model."""
    return MemoryRecord(
        issue_signature=row["issue_signature"],
        fix_signature=row["fix_signature"],
        component=row["component"],
        strategy=row["strategy"],
        params=dict(row["params"] or {}),
        risk=row["risk"],
        successes=int(row["success_count"]),
        failures=int(row["failure_count"]),
        last_outcome=row["last_outcome"],
        last_success_at=row["last_success_at"],
        last_failure_at=row["last_failure_at"],
        suggestions=list(row["suggestions"] or []),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        score=float(row["score"]),
    )


def audit_entry(seq: int, data: Mapping[str, Any]) -> AuditEntry:
    entry = AuditEntry.model_validate(dict(data))
    entry.seq = int(seq)
    return entry


def issue_buckets(rows: Iterable[Mapping[str, Any]]) -> list[IssueBucket]:
    return [
        IssueBucket(
            component=row["component"],
            state=IssueState(row["state"]),
            severity=SEVERITY_BY_RANK[int(row["severity_rank"])],
            recent=bool(row["recent"]),
            count=int(row["count"]),
        )
        for row in rows
    ]


def memory_insights(data: Mapping[str, Any]) -> MemoryInsights:
    return MemoryInsights(
        records=int(data["records"]),
        signatures=int(data["signatures"]),
        successes=int(data["successes"]),
        failures=int(data["failures"]),
        top_fixes=[memory_record(row) for row in data["top_fixes"]],
        failing_fixes=[memory_record(row) for row in data["failing_fixes"]],
    )
