"""Stores: where issues, healing memory, the audit log and patches live.

``open_store(settings)`` picks the store from configuration: ``DATABASE_URL`` selects Postgres,
``SUPABASE_URL`` + ``SUPABASE_SERVICE_ROLE_KEY`` select Supabase, and nothing selects the embedded SQLite
file under ``.healing/``. Remote stores are imported only when configured, so the default start stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from healing_mcp.store.base import (
    IntakeBatch,
    IssueBucket,
    IssueGroup,
    IssuePage,
    IssueQuery,
    OutcomeRecord,
    Store,
    StoreError,
    StoreUnavailable,
)

if TYPE_CHECKING:
    from healing_mcp.config import Settings


def create_store(settings: Settings) -> Store:
    """Build (not open) the configured store."""
    if settings.store_kind == "sqlite":
        from healing_mcp.store.sqlite import SQLiteStore

        return SQLiteStore(settings.resolved_db_path)
    raise StoreError(
        f"the {settings.store_kind} store is not available in this build; unset DATABASE_URL / SUPABASE_URL "
        "to use the embedded SQLite store."
    )


__all__ = [
    "IntakeBatch",
    "IssueBucket",
    "IssueGroup",
    "IssuePage",
    "IssueQuery",
    "OutcomeRecord",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "create_store",
]
