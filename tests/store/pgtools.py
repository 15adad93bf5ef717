"""Test databases on the local PostgreSQL: Supabase's roles and ``auth`` schema emulated, one database per
test (cloned from a template), created and dropped by the fixtures in ``conftest.py``.

The emulation follows what a Supabase project has before any user migration: roles ``anon`` and
``authenticated`` (nologin noinherit), ``service_role`` (nologin noinherit bypassrls), ``authenticator``
(login noinherit, member of the three); schemas ``extensions`` and ``auth`` with ``auth.users`` and
``auth.uid()/role()/email()/jwt()`` reading ``request.jwt.claims``; and the default privileges that grant
everything on new objects in ``public`` to the three API roles. Migrations run as ``healing_test_owner``,
a login role without superuser rights (as ``postgres`` is on Supabase), which owns the databases.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

ADMIN_URL = os.environ.get("HEALING_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
HOST = os.environ.get("HEALING_TEST_PG_HOST", "127.0.0.1")
PORT = int(os.environ.get("HEALING_TEST_PG_PORT", "5432"))
OWNER = "healing_test_owner"

ROLES_SQL = """
do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'anon') then
        create role anon nologin noinherit;
    end if;
    if not exists (select 1 from pg_roles where rolname = 'authenticated') then
        create role authenticated nologin noinherit;
    end if;
    if not exists (select 1 from pg_roles where rolname = 'service_role') then
        create role service_role nologin noinherit bypassrls;
    end if;
    if not exists (select 1 from pg_roles where rolname = 'authenticator') then
        create role authenticator login noinherit;
    end if;
    if not exists (select 1 from pg_roles where rolname = 'healing_test_owner') then
        create role healing_test_owner login nosuperuser nocreatedb nocreaterole;
    end if;
end;
$$;
grant anon, authenticated, service_role to authenticator;
"""

EMULATION_SQL = f"""
create schema if not exists extensions;
create schema if not exists auth;
create table if not exists auth.users (
    instance_id uuid, id uuid primary key, aud text, role text, email text, raw_app_meta_data jsonb,
    raw_user_meta_data jsonb, created_at timestamptz default now(), updated_at timestamptz default now()
);
create or replace function auth.jwt() returns jsonb language sql stable as $$
    select coalesce(nullif(current_setting('request.jwt.claim', true), ''),
                    nullif(current_setting('request.jwt.claims', true), ''))::jsonb
$$;
create or replace function auth.uid() returns uuid language sql stable as $$
    select coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''),
                    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'))::uuid
$$;
create or replace function auth.role() returns text language sql stable as $$
    select coalesce(nullif(current_setting('request.jwt.claim.role', true), ''),
                    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role'))::text
$$;
create or replace function auth.email() returns text language sql stable as $$
    select coalesce(nullif(current_setting('request.jwt.claim.email', true), ''),
                    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email'))::text
$$;
grant usage on schema auth, extensions, public to anon, authenticated, service_role;
grant all on auth.users to service_role;
alter default privileges for role {OWNER} in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges for role {OWNER} in schema public grant all on functions to anon, authenticated, service_role;
alter default privileges for role {OWNER} in schema public grant all on sequences to anon, authenticated, service_role;
"""


def admin_connect(dbname: str | None = None) -> psycopg.Connection[tuple[object, ...]]:
    url = ADMIN_URL if dbname is None else psycopg.conninfo.make_conninfo(ADMIN_URL, dbname=dbname)
    return psycopg.connect(url, autocommit=True)


def url(dbname: str, user: str = OWNER) -> str:
    return f"postgresql://{user}@{HOST}:{PORT}/{dbname}"


def ensure_roles() -> None:
    with admin_connect() as conn:
        conn.execute("select pg_advisory_lock(7355608)")  # roles are cluster-wide: one creator at a time
        try:
            conn.execute(ROLES_SQL)
        finally:
            conn.execute("select pg_advisory_unlock(7355608)")


def new_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def create_database(name: str, template: str | None = None) -> None:
    with admin_connect() as conn:
        tmpl = f" template {template}" if template else ""
        conn.execute(f'create database "{name}" owner {OWNER}{tmpl}')


def drop_database(name: str) -> None:
    with admin_connect() as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def emulate_supabase(dbname: str) -> None:
    with admin_connect(dbname) as conn:
        conn.execute(EMULATION_SQL)


@contextmanager
def database(template: str | None = None, prefix: str = "healing_t") -> Iterator[str]:
    name = new_name(prefix)
    create_database(name, template)
    try:
        yield name
    finally:
        drop_database(name)
