"""Stores: where issues, healing memory, the audit log and patches live.

``create_store(settings)`` picks the store from configuration: ``DATABASE_URL`` selects Postgres,
``SUPABASE_URL`` + ``SUPABASE_SERVICE_ROLE_KEY`` select Supabase, and nothing selects the embedded SQLite
file under ``.healing/``. Remote stores are imported only when configured, so the default start stays fast,
and are wrapped in a :class:`~healing_mcp.store.spool.SpoolingStore` so an outage of the database never
loses an outcome, an audit entry, an issue update or a patch (they wait in ``<home>/spool/``).

Schema migrations for the remote stores: :mod:`healing_mcp.store.migrate`.
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
    issue_lease_key,
)

if TYPE_CHECKING:
    from healing_mcp.config import Settings


def create_store(settings: Settings, *, spool: bool = True) -> Store:
    """Build (not open) the configured store.

    Configuration errors (bad URL scheme, a key that is not a service_role key, missing key) raise
    :class:`StoreError` here; problems only the server can reveal (unreachable host, wrong password,
    missing tables) are raised by ``open()``. Each message is one line that says what to do.
    """
    kind = settings.store_kind
    if kind == "sqlite":
        from healing_mcp.store.sqlite import SQLiteStore

        return SQLiteStore(settings.resolved_db_path)
    remote: Store
    if kind == "postgres":
        from healing_mcp.store.postgres import PostgresStore

        remote = PostgresStore.from_settings(settings)
    else:
        from healing_mcp.store.supabase import SupabaseStore, check_service_key, parse_supabase_url

        if settings.supabase_url is not None:
            parse_supabase_url(settings.supabase_url)
        if settings.supabase_service_role_key is not None:
            check_service_key(settings.supabase_service_role_key.get_secret_value())
        remote = SupabaseStore.from_settings(settings)
    if not spool:
        return remote
    from healing_mcp.store.spool import SpoolingStore

    return SpoolingStore(remote, settings.home / "spool")


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
    "issue_lease_key",
]
