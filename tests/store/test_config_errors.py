"""Bad configuration gives one clear line that says what to do, and never shows a secret."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import psycopg
import pytest

from healing_mcp.config import Settings
from healing_mcp.store import create_store
from healing_mcp.store.base import StoreError, StoreUnavailable
from healing_mcp.store.postgres import PostgresStore
from healing_mcp.store.spool import SpoolingStore
from healing_mcp.store.sqlite import SQLiteStore
from healing_mcp.store.supabase import SupabaseStore

from . import pgtools
from .conftest import SUPABASE_URL, PgDatabase, run_cli, supabase_store
from .postgrest_standin import PostgrestStandIn, make_key

PASSWORD = "s3cret-Pa55word"


def one_line(exc: pytest.ExceptionInfo[BaseException], *secrets: str) -> str:
    message = str(exc.value)
    assert "\n" not in message
    assert message.strip() == message
    assert message
    for secret in secrets:
        assert secret not in message
    return message


# ------------------------------------------------------------------------------------------ selection


def test_nothing_configured_means_the_embedded_sqlite_store(tmp_path: Path) -> None:
    store = create_store(Settings(home=tmp_path))
    assert isinstance(store, SQLiteStore)


def test_database_url_selects_postgres_behind_a_spool(tmp_path: Path) -> None:
    url = f"postgresql://app:{PASSWORD}@db.example.com:6543/postgres"
    store = create_store(Settings(database_url=url, home=tmp_path))
    assert isinstance(store, SpoolingStore)
    assert isinstance(store.remote, PostgresStore)
    assert store.spool_dir == tmp_path / "spool"
    assert store.description == "postgres://db.example.com:6543/postgres"
    assert isinstance(create_store(Settings(database_url=url, home=tmp_path), spool=False), PostgresStore)


def test_supabase_url_selects_supabase(tmp_path: Path) -> None:
    settings = Settings(supabase_url="https://abc.supabase.co/", supabase_service_role_key=make_key("service_role"))
    store = create_store(settings.model_copy(update={"home": tmp_path}))
    assert isinstance(store, SpoolingStore)
    assert isinstance(store.remote, SupabaseStore)
    assert store.description == "supabase:https://abc.supabase.co"


# ------------------------------------------------------------------------------------------ postgres


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            f"mysql://root:{PASSWORD}@db:3306/app",
            "DATABASE_URL must start with postgresql:// or postgres:// (got mysql://)",
        ),
        (f"https://user:{PASSWORD}@db.example.com", "DATABASE_URL must start with postgresql://"),
        ("", "DATABASE_URL is empty"),
        (f"postgresql://u:{PASSWORD}@[::1/db", "DATABASE_URL is not a valid Postgres connection string"),
    ],
)
def test_bad_database_url_is_refused_before_connecting(url: str, expected: str, tmp_path: Path) -> None:
    with pytest.raises(StoreError) as exc:
        create_store(Settings(database_url=url, home=tmp_path))
    assert expected in one_line(exc, PASSWORD)


# A password whose special characters were not percent-encoded: libpq would read the URL as other parts
# (host "app", port "Qx7k"...) and quote them. Each piece of the password must stay out of the message.
PIECES = ("Qx7k", "Zr9Wv")
HINT = "percent-encode special characters in the password"


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("Qx7k/Zr9Wv", "it has an @ where the host or database name should be"),
        ("Qx7k@Zr9Wv", "it has an @ where the host or database name should be"),
        ("Qx7k Zr9Wv", "it contains a space"),
        ("Qx7k%zzZr9Wv", "it has a % that does not start a percent-encoded character"),
        ("1234/Zr9Wv", "it has an @ where the host or database name should be"),  # parses as host app, port 1234
    ],
)
def test_a_password_that_needs_percent_encoding_is_never_echoed(password: str, problem: str, tmp_path: Path) -> None:
    url = f"postgresql://app:{password}@127.0.0.1:5432/x"
    with pytest.raises(StoreError) as exc:
        create_store(Settings(database_url=url, home=tmp_path))
    message = one_line(exc, password, *PIECES)
    assert f"({problem})" in message and HINT in message
    assert "postgresql://USER@HOST:5432/DBNAME" in message


def test_a_port_that_is_not_a_number(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as exc:  # e.g. a password with a '/' and no '@' after it
        create_store(Settings(database_url="postgresql://app:Qx7k/Zr9Wv", home=tmp_path))
    assert "(its port is not a number)" in one_line(exc, *PIECES)


def test_key_value_connection_strings_are_not_echoed_either(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as exc:
        create_store(Settings(database_url="host=db password=Qx7k Zr9Wv dbname=x", home=tmp_path))
    assert "single quotes" in one_line(exc, *PIECES)
    with pytest.raises(StoreError) as exc:
        create_store(Settings(database_url="host=db port=Qx7k dbname=x", home=tmp_path))
    assert "(its port is not a number)" in one_line(exc, *PIECES)


def test_the_description_is_built_from_validated_parts_only(tmp_path: Path) -> None:
    for url in (
        "postgresql://app:Qx7k%2FZr9Wv@db.example.com:6543/postgres",
        "postgresql://app:Qx7k?Zr9Wv@db.example.com:6543/postgres",  # '?' before the '@' is part of the password
        "host=db.example.com port=6543 dbname=postgres user=app password='Qx7k Zr9Wv'",
    ):
        store = create_store(Settings(database_url=url, home=tmp_path), spool=False)
        assert store.description == "postgres://db.example.com:6543/postgres"


def test_the_cli_prints_a_readable_hint_and_no_piece_of_the_password(tmp_path: Path) -> None:
    for password in ("Qx7k/Zr9Wv", "Qx7k@Zr9Wv", "Qx7k Zr9Wv"):
        result = run_cli(tmp_path, "db", "status", DATABASE_URL=f"postgresql://postgres:{password}@127.0.0.1:5432/x")
        assert result.returncode == 2
        assert result.stdout == ""
        line = result.stderr.strip()
        assert "\n" not in line and not any(piece in result.stderr for piece in PIECES)
        assert HINT in line
        assert "postgresql://USER@HOST:5432/DBNAME" in line, "the hint survives secret redaction"
        assert "[REDACTED]" not in line


async def test_unreachable_port() -> None:
    store = PostgresStore(f"postgresql://app:{PASSWORD}@127.0.0.1:1/postgres", connect_timeout=3)
    with pytest.raises(StoreUnavailable) as exc:
        await store.open()
    assert one_line(exc, PASSWORD) == (
        "cannot reach Postgres at 127.0.0.1:1: connection refused; check the host and port in DATABASE_URL "
        "and that the database is running."
    )


async def test_unknown_host() -> None:
    store = PostgresStore(f"postgresql://app:{PASSWORD}@no-such-host.invalid:5432/postgres", connect_timeout=3)
    with pytest.raises(StoreUnavailable) as exc:
        await store.open()
    assert one_line(exc, PASSWORD) == (
        "cannot reach Postgres at no-such-host.invalid:5432: unknown host; check the host in DATABASE_URL."
    )


async def test_missing_database(pg_templates: object) -> None:
    store = PostgresStore(pgtools.url("healing_no_such_database"))
    with pytest.raises(StoreError) as exc:
        await store.open()
    assert one_line(exc) == (
        f"Postgres at {pgtools.HOST}:{pgtools.PORT} has no database 'healing_no_such_database': create it or fix "
        "the database name in DATABASE_URL."
    )


async def test_unknown_user(pg_db: PgDatabase) -> None:
    store = PostgresStore(f"postgresql://healing_nobody:{PASSWORD}@{pgtools.HOST}:{pgtools.PORT}/{pg_db.name}")
    with pytest.raises(StoreError) as exc:
        await store.open()
    message = one_line(exc, PASSWORD)
    assert message.startswith(f"Postgres at {pgtools.HOST}:{pgtools.PORT} rejected the login in DATABASE_URL (")
    assert 'role "healing_nobody" does not exist' in message
    assert message.endswith("check the user name and password.")


async def test_missing_tables_say_run_migrate(pg_empty_db: PgDatabase) -> None:
    store = PostgresStore(pg_empty_db.url)
    with pytest.raises(StoreError) as exc:
        await store.open()
    assert one_line(exc) == (
        f"the healing-mcp tables are missing in postgres://{pgtools.HOST}:{pgtools.PORT}/{pg_empty_db.name}: "
        "run `healing-mcp db migrate` (or apply supabase/migrations with `supabase db push`) to create them."
    )


async def test_outdated_schema_says_run_migrate(pg_db: PgDatabase) -> None:
    with psycopg.connect(pg_db.url, autocommit=True) as conn:
        conn.execute("delete from public.healing_schema_migrations where name like '%functions'")
    store = PostgresStore(pg_db.url)
    with pytest.raises(StoreError) as exc:
        await store.open()
    message = one_line(exc)
    assert "is behind this version (pending: 20261125000200_healing_store_functions)" in message
    assert "run `healing-mcp db migrate`" in message


async def test_a_user_without_rights_is_told_which_role_to_use(pg_db: PgDatabase) -> None:
    """Connecting as a role that may not use the tables (here: authenticator, as a stand-in for any
    unprivileged application role)."""
    store = PostgresStore(pg_db.authenticator_url)
    with pytest.raises(StoreError) as exc:
        await store.open()
    message = one_line(exc)
    assert "may not use the healing tables" in message
    assert "postgres on Supabase" in message


# ------------------------------------------------------------------------------------------ supabase


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (
            make_key("anon"),
            "SUPABASE_SERVICE_ROLE_KEY is not a service_role key (its role claim is 'anon'): copy the service_role "
            "key from the Supabase dashboard (Project Settings > API Keys).",
        ),
        (make_key("authenticated"), "its role claim is 'authenticated'"),
        ("sb_publishable_0123456789abcdefghij", "holds a publishable (client) key"),
        ("not-a-key-at-all", "is not a Supabase API key (expected a JWT or sb_secret_...)"),
    ],
)
def test_wrong_kind_of_key_is_refused_before_any_request(key: str, expected: str, tmp_path: Path) -> None:
    settings = Settings(supabase_url="https://abc.supabase.co", supabase_service_role_key=key, home=tmp_path)
    with pytest.raises(StoreError) as exc:
        create_store(settings)
    assert expected in one_line(exc, key)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "ftp://abc.supabase.co",
            "SUPABASE_URL must be the project's http(s) URL, like https://<project-ref>.supabase.co (its scheme is "
            "ftp://).",
        ),
        ("abc.supabase.co", "(it has no http:// or https:// scheme)"),
        ("", "(it is empty)"),
    ],
)
def test_bad_supabase_url(url: str, expected: str, tmp_path: Path) -> None:
    settings = Settings(supabase_url=url, supabase_service_role_key=make_key("service_role"), home=tmp_path)
    with pytest.raises(StoreError) as exc:
        create_store(settings)
    assert expected in one_line(exc)


def test_swapped_supabase_variables_never_echo_the_key(tmp_path: Path) -> None:
    key = make_key("service_role")
    swapped = Settings(supabase_url=key, supabase_service_role_key="https://abc.supabase.co", home=tmp_path)
    with pytest.raises(StoreError) as exc:
        create_store(swapped)
    message = one_line(exc, key, key[:12], key.split(".")[1][:12])
    assert "SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY look swapped" in message
    url_as_key = Settings(supabase_url="https://abc.supabase.co", supabase_service_role_key="https://abc.supabase.co")
    with pytest.raises(StoreError) as exc:
        create_store(url_as_key.model_copy(update={"home": tmp_path}))
    assert "SUPABASE_SERVICE_ROLE_KEY holds a URL, not a key" in one_line(exc)
    secret = "sb_secret_0123456789abcdefghijklmnop"
    with pytest.raises(StoreError) as exc:
        create_store(Settings(supabase_url=secret, supabase_service_role_key=secret, home=tmp_path))
    assert "look swapped" in one_line(exc, secret, secret[:16])


def test_supabase_url_without_key(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as exc:
        create_store(Settings(supabase_url="https://abc.supabase.co", home=tmp_path))
    assert one_line(exc).startswith("SUPABASE_URL is set but SUPABASE_SERVICE_ROLE_KEY is not")


async def test_key_rejected_by_the_server(standin: PostgrestStandIn) -> None:
    forged = make_key("service_role", secret="another-projects-secret-that-is-long-enough-123")
    store = supabase_store(standin, key=forged)
    with pytest.raises(StoreError) as exc:
        await store.open()
    assert one_line(exc, forged) == (
        "Supabase at http://standin.supabase.test rejected SUPABASE_SERVICE_ROLE_KEY (PGRST301: JWSError "
        "JWSInvalidSignature): check that the key belongs to this project; copy the service_role key from the "
        "Supabase dashboard (Project Settings > API Keys)."
    )


async def test_expired_key(standin: PostgrestStandIn) -> None:
    expired = make_key("service_role", expires_in=-60)
    store = supabase_store(standin, key=expired)
    with pytest.raises(StoreError) as exc:
        await store.open()
    assert "rejected SUPABASE_SERVICE_ROLE_KEY (PGRST303: JWT expired)" in one_line(exc, expired)


async def test_supabase_missing_tables_say_run_migrate(pg_empty_db: PgDatabase) -> None:
    transport = PostgrestStandIn(pg_empty_db.authenticator_url)
    store = supabase_store(transport)
    try:
        with pytest.raises(StoreError) as exc:
            await store.open()
        assert one_line(exc) == (
            "the healing-mcp tables are missing in supabase:http://standin.supabase.test: run `healing-mcp db "
            "migrate` (or apply supabase/migrations with `supabase db push`) to create them."
        )
        assert transport.calls == [("POST", "/rest/v1/rpc/healing_store_info")]
    finally:
        await transport.aclose()


async def test_supabase_unreachable() -> None:
    key = make_key("service_role")
    store = SupabaseStore("http://127.0.0.1:1", key, timeout=3)
    with pytest.raises(StoreUnavailable) as exc:
        await store.open()
    message = one_line(exc, key)
    assert message.startswith("cannot reach Supabase at http://127.0.0.1:1 (")
    assert message.endswith("check SUPABASE_URL and the network.")


async def test_url_that_is_not_a_supabase_project() -> None:
    def not_supabase(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text="<html>Not Found</html>")

    client = httpx.AsyncClient(transport=httpx.MockTransport(not_supabase))
    store = SupabaseStore(SUPABASE_URL, make_key("service_role"), http_client=client)
    with pytest.raises(StoreError) as exc:
        await store.open()
    assert one_line(exc) == (
        "http://standin.supabase.test does not answer like a Supabase project (404 from /rest/v1): check SUPABASE_URL."
    )


def test_the_default_store_imports_no_database_driver(tmp_path: Path) -> None:
    """psycopg and supabase-py are imported only when a remote store is configured: start-up stays fast."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from healing_mcp.config import Settings\n"
        "from healing_mcp.store import create_store\n"
        f"create_store(Settings(home={str(tmp_path)!r}))\n"
        "drivers = ('psycopg', 'psycopg_pool', 'supabase', 'postgrest')\n"
        "print(','.join(sorted(m for m in drivers if m in sys.modules)) or 'none')\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SUPABASE_URL")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == "none"
