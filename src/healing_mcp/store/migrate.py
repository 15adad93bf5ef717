"""Schema migrations for the Postgres and Supabase stores: what ``healing-mcp db migrate`` and
``healing-mcp db status`` run.

The migrations are the SQL files in ``supabase/migrations/`` (Supabase CLI naming,
``YYYYMMDDHHMMSS_name.sql``), so a Supabase project can also apply them with ``supabase db push``.
Each file is idempotent and records its own name in the ledger table ``public.healing_schema_migrations``
as its last statement, so the ledger is right whichever tool applied it. ``migrate`` additionally
stores each file's SHA-256 checksum there; ``migration_status`` reports files whose checksum changed
after they were applied (edited migrations are never re-applied: write a new file instead). Rows with no
checksum were applied by another tool (e.g. the Supabase CLI, whose own history lives in
``supabase_migrations.schema_migrations``).

Each file is applied in its own transaction under a transaction-scoped advisory lock, so two migrators
never interleave and a failed file leaves nothing behind. This works through a transaction pooler too.
Outside ``dev`` (``settings.environment``), ``migrate`` refuses to change the database unless called with
``confirm=True`` (the CLI's ``--yes``).

Over Supabase's HTTP API alone (``SUPABASE_URL`` without ``DATABASE_URL``) the status can be read but
DDL cannot run: ``migrate`` then explains how to give it a direct connection.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import anyio.to_thread
from pydantic import BaseModel, Field

from healing_mcp.models import Environment
from healing_mcp.store.base import StoreError, StoreUnavailable

if TYPE_CHECKING:
    from healing_mcp.config import Settings

LEDGER = "public.healing_schema_migrations"
_LOCK_KEY = 0x6865616C696E67  # "healing": one advisory lock for every migrator of a database


class MigrationFile(BaseModel):
    name: str = Field(description="File name without .sql, e.g. 20261125000100_healing_store_schema.")
    version: str = Field(description="The timestamp prefix.")
    checksum: str = Field(description="SHA-256 of the file (line endings normalised).")
    path: str


class AppliedMigration(BaseModel):
    name: str
    checksum: str | None = Field(default=None, description="None when another tool applied it.")
    applied_at: datetime | None = None
    applied_by: str | None = None


class MigrationStatus(BaseModel):
    store: Literal["sqlite", "postgres", "supabase"]
    target: str = Field(description="Where, secrets removed.")
    applied: list[AppliedMigration] = Field(default_factory=list)
    pending: list[MigrationFile] = Field(default_factory=list)
    changed: list[str] = Field(default_factory=list, description="Applied files whose checksum differs now.")
    unknown: list[str] = Field(
        default_factory=list, description="Applied migrations this version does not ship (a newer version ran)."
    )
    up_to_date: bool
    summary: str


class MigrationReport(BaseModel):
    store: Literal["sqlite", "postgres", "supabase"]
    target: str
    environment: Environment
    applied: list[str] = Field(default_factory=list, description="Files applied by this run, in order.")
    already_applied: list[str] = Field(default_factory=list)
    changed: list[str] = Field(default_factory=list)
    summary: str


# ------------------------------------------------------------------------------------------ files


def migrations_dir() -> Path | None:
    """Where the migration files are: packaged next to this module (wheel installs) or the source
    checkout's ``supabase/migrations``."""
    packaged = Path(__file__).with_name("migrations")
    if packaged.is_dir() and any(packaged.glob("*.sql")):
        return packaged
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "supabase" / "migrations"
        if candidate.is_dir() and any(candidate.glob("*.sql")):
            return candidate
    return None


def checksum(data: bytes) -> str:
    return hashlib.sha256(data.replace(b"\r\n", b"\n")).hexdigest()


def migration_files(directory: Path | None = None) -> list[MigrationFile]:
    """The migrations this version ships, oldest first (empty when the files are not installed)."""
    folder = directory if directory is not None else migrations_dir()
    if folder is None:
        return []
    files = []
    for path in sorted(folder.glob("*.sql")):
        name = path.stem
        version = name.split("_", 1)[0]
        if not version.isdigit():
            continue
        files.append(MigrationFile(name=name, version=version, checksum=checksum(path.read_bytes()), path=str(path)))
    return files


def _status(
    store: Literal["postgres", "supabase"], target: str, applied: list[AppliedMigration], files: list[MigrationFile]
) -> MigrationStatus:
    by_name = {a.name: a for a in applied}
    shipped = {f.name for f in files}
    pending = [f for f in files if f.name not in by_name]
    changed = [f.name for f in files if f.name in by_name and by_name[f.name].checksum not in (None, f.checksum)]
    unknown = sorted(name for name in by_name if name not in shipped)
    if not files:
        summary = "the migration files are not installed with this copy of healing-mcp; cannot compare."
    elif pending:
        summary = f"{len(pending)} pending migration(s) in {target}: run `healing-mcp db migrate`."
    else:
        summary = f"{target} is up to date ({len(applied)} migration(s) applied)."
    if changed:
        summary += f" Changed after being applied (not re-run): {', '.join(changed)}."
    return MigrationStatus(
        store=store,
        target=target,
        applied=sorted(applied, key=lambda a: a.name),
        pending=pending,
        changed=changed,
        unknown=unknown,
        up_to_date=bool(files) and not pending,
        summary=summary,
    )


# ------------------------------------------------------------------------------------------ postgres


async def _connect(url: str) -> Any:
    import psycopg
    from psycopg.rows import dict_row

    from healing_mcp.store.postgres import connect_error, parse_database_url

    parsed = parse_database_url(url)
    try:
        return parsed, await psycopg.AsyncConnection.connect(
            parsed.conninfo, prepare_threshold=None, row_factory=dict_row, connect_timeout=10, autocommit=False
        )
    except psycopg.Error as exc:
        raise connect_error(exc, parsed, 10.0) from None


async def _applied(conn: Any) -> list[AppliedMigration]:
    cur = await conn.execute("select to_regclass(%s) is not null as present", (LEDGER,))
    row = await cur.fetchone()
    if not row["present"]:
        return []
    cur = await conn.execute(f"select name, checksum, applied_at, applied_by from {LEDGER} order by name")
    return [AppliedMigration.model_validate(dict(r)) for r in await cur.fetchall()]


async def postgres_status(url: str, files: list[MigrationFile] | None = None) -> MigrationStatus:
    parsed, conn = await _connect(url)
    try:
        applied = await _applied(conn)
        await conn.rollback()
    except Exception as exc:
        raise _sql_error(exc, parsed.description) from None
    finally:
        await conn.close()
    return _status("postgres", parsed.description, applied, migration_files() if files is None else files)


async def apply_postgres(url: str, files: list[MigrationFile] | None = None) -> tuple[list[str], list[str]]:
    """Apply every pending file, each in its own transaction. Returns (applied, already applied)."""
    wanted = migration_files() if files is None else files
    parsed, conn = await _connect(url)
    applied_now: list[str] = []
    already: list[str] = []
    try:
        for file in wanted:
            try:
                await conn.execute("select pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                done = {a.name for a in await _applied(conn)}
                if file.name in done:
                    already.append(file.name)
                    await conn.rollback()
                    continue
                text = await anyio.to_thread.run_sync(Path(file.path).read_text, "utf-8")
                await conn.execute(text.encode())
                await conn.execute(
                    f"insert into {LEDGER} (name, checksum) values (%s, %s) on conflict (name) do update "
                    "set checksum = excluded.checksum, applied_at = now(), applied_by = current_user",
                    (file.name, file.checksum),
                )
                await conn.commit()
                applied_now.append(file.name)
            except StoreError:
                raise
            except Exception as exc:
                await conn.rollback()
                raise _sql_error(exc, parsed.description, file.name) from None
    finally:
        await conn.close()
    return applied_now, already


def _sql_error(exc: BaseException, target: str, file: str | None = None) -> StoreError:
    import psycopg

    from healing_mcp.store.postgres import _one_line

    where = f"migration {file} failed on {target}" if file else f"cannot read the migration ledger of {target}"
    if isinstance(exc, psycopg.OperationalError):
        return StoreUnavailable(f"{where}: {_one_line(exc)}; retry when the database is reachable.")
    if getattr(exc, "sqlstate", None) == "42501":
        return StoreError(f"{where}: {_one_line(exc)}; run migrations as the database owner (postgres on Supabase).")
    return StoreError(f"{where}: {_one_line(exc)}")


# ------------------------------------------------------------------------------------------ supabase


async def _supabase_status(settings: Settings, files: list[MigrationFile]) -> MigrationStatus:
    from healing_mcp.store.supabase import SupabaseStore

    store = SupabaseStore.from_settings(settings)
    rows = await store.read_ledger()
    applied = [AppliedMigration.model_validate(r) for r in rows]
    return _status("supabase", store.description, applied, files)


# ------------------------------------------------------------------------------------------ API


async def migration_status(settings: Settings) -> MigrationStatus:
    """Applied and pending migrations of the configured store."""
    kind = settings.store_kind
    files = migration_files()
    if kind == "sqlite":
        target = f"sqlite:{settings.resolved_db_path}"
        return MigrationStatus(
            store="sqlite",
            target=target,
            up_to_date=True,
            summary=f"{target}: the embedded SQLite store creates and upgrades its schema itself.",
        )
    if kind == "supabase":
        return await _supabase_status(settings, files)
    assert settings.database_url is not None
    return await postgres_status(settings.database_url.get_secret_value(), files)


async def migrate(settings: Settings, *, confirm: bool) -> MigrationReport:
    """Apply pending migrations to the configured database.

    Outside ``dev`` nothing is changed unless ``confirm`` is true (``healing-mcp db migrate --yes``).
    Running it again when everything is applied is a no-op and needs no confirmation.
    """
    kind = settings.store_kind
    environment = settings.environment
    if kind == "sqlite":
        target = f"sqlite:{settings.resolved_db_path}"
        return MigrationReport(
            store="sqlite",
            target=target,
            environment=environment,
            summary=f"nothing to do: the embedded SQLite store ({target}) manages its own schema.",
        )
    if kind == "supabase":
        status = await _supabase_status(settings, migration_files())
        if status.up_to_date:
            return MigrationReport(
                store="supabase",
                target=status.target,
                environment=environment,
                already_applied=[a.name for a in status.applied],
                changed=status.changed,
                summary=status.summary,
            )
        raise StoreError(
            f"cannot run migrations over the Supabase HTTP API ({status.target}): set DATABASE_URL to the "
            "project's Postgres connection string (Supabase dashboard > Connect) and run `healing-mcp db "
            "migrate` again, or apply supabase/migrations with `supabase db push`."
        )
    files = migration_files()
    if not files:
        raise StoreError(
            "the migration files are not installed with this copy of healing-mcp: reinstall it, or apply "
            "supabase/migrations from the source tree with `supabase db push`."
        )
    assert settings.database_url is not None
    url = settings.database_url.get_secret_value()
    status = await postgres_status(url, files)
    if status.pending and environment is not Environment.dev and not confirm:
        names = ", ".join(f.name for f in status.pending)
        raise StoreError(
            f"refusing to migrate {status.target} in the {environment.value} environment without confirmation "
            f"({len(status.pending)} pending: {names}): re-run with `healing-mcp db migrate --yes`."
        )
    applied, already = await apply_postgres(url, files) if status.pending else ([], [f.name for f in files])
    if applied:
        summary = f"applied {len(applied)} migration(s) to {status.target}: {', '.join(applied)}."
    else:
        summary = f"{status.target} is already up to date; nothing applied."
    if status.changed:
        summary += f" Changed after being applied (not re-run): {', '.join(status.changed)}."
    return MigrationReport(
        store="postgres",
        target=status.target,
        environment=environment,
        applied=applied,
        already_applied=already,
        changed=status.changed,
        summary=summary,
    )
