-- healing-mcp store, part 1: tables, indexes, the append-only audit trigger, row level security.
--
-- Applies on a Supabase project (`supabase db push`, or `healing-mcp db migrate`) and on plain
-- PostgreSQL 15+. Every statement is idempotent: applying this file again changes nothing.
-- Needs no extension and no superuser: the owner is whoever runs it (`postgres` on Supabase).
--
-- Access model: only the owner and `service_role` may read or write. Row level security is enabled on
-- every table with a single policy for `service_role`; `anon`, `authenticated` and PUBLIC get no
-- privileges at all (Supabase's default privileges grant them everything on new tables in `public`,
-- so those grants are revoked here, object by object). Role-specific statements run only when the role
-- exists, so the file also applies to a PostgreSQL server without Supabase's roles.

-- Ledger of applied migrations. Each healing-mcp migration file records itself here (see the end of
-- each file), so the ledger is right whichever tool applied it; `healing-mcp db migrate` also stores
-- the file checksum.
create table if not exists public.healing_schema_migrations (
    name text collate "C" primary key,
    checksum text,
    applied_at timestamptz not null default now(),
    applied_by text not null default current_user
);

-- Issues: the columns queries filter and sort on, plus the whole issue as jsonb. `version` grows by one
-- on every change (optimistic concurrency for clients that cannot hold a row lock, e.g. over HTTP).
create table if not exists public.healing_issues (
    id text collate "C" primary key,
    signature text collate "C" not null unique,
    component text not null,
    state text not null,
    severity_rank smallint not null check (severity_rank between 0 and 3),
    last_seen timestamptz not null,
    next_attempt_at timestamptz,
    updated_at timestamptz not null,
    version bigint not null default 1 check (version > 0),
    data jsonb not null check (jsonb_typeof(data) = 'object'),
    is_resolved boolean generated always as (state = 'resolved') stored
);
create index if not exists healing_issues_by_urgency
    on public.healing_issues (is_resolved, severity_rank desc, last_seen desc, id);
create index if not exists healing_issues_by_component on public.healing_issues (component, state, last_seen);
create index if not exists healing_issues_by_state on public.healing_issues (state, next_attempt_at);

-- Intake: how far each event source was read, lines that could not be parsed, event counters.
create table if not exists public.healing_watermarks (
    source text collate "C" primary key,
    "offset" bigint not null check ("offset" >= 0),
    fingerprint text not null default '',
    updated_at timestamptz not null
);

create table if not exists public.healing_quarantine (
    seq bigint generated always as identity primary key,
    source text collate "C" not null,
    "offset" bigint not null,
    data jsonb not null,
    recorded_at timestamptz not null default now(),
    unique (source, "offset")
);

create table if not exists public.healing_counters (
    name text collate "C" primary key,
    value bigint not null default 0
);

-- Leases: one holder per key until `expires_at`; a dead holder's lease simply expires.
create table if not exists public.healing_leases (
    key text collate "C" primary key,
    holder text not null,
    expires_at timestamptz not null,
    acquired_at timestamptz not null default now()
);

-- Audit log: append-only (trigger below). (attempt_id, phase) is unique so a replayed append is a no-op.
create table if not exists public.healing_audit_log (
    seq bigint generated always as identity primary key,
    attempt_id text collate "C" not null,
    phase text not null,
    issue_id text collate "C" not null,
    time timestamptz not null,
    data jsonb not null,
    recorded_at timestamptz not null default now(),
    unique (attempt_id, phase)
);
create index if not exists healing_audit_log_by_issue on public.healing_audit_log (issue_id, seq);

create or replace function public.healing_audit_log_append_only()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
    raise exception 'healing_audit_log is append-only: % is not allowed', tg_op
        using errcode = 'restrict_violation',
              hint = 'audit entries are never changed or removed; append a new entry instead';
end;
$$;

do $$
begin
    if not exists (select 1 from pg_trigger where tgrelid = 'public.healing_audit_log'::regclass
                   and tgname = 'healing_audit_log_no_update_delete') then
        create trigger healing_audit_log_no_update_delete
            before update or delete on public.healing_audit_log
            for each row execute function public.healing_audit_log_append_only();
    end if;
    if not exists (select 1 from pg_trigger where tgrelid = 'public.healing_audit_log'::regclass
                   and tgname = 'healing_audit_log_no_truncate') then
        create trigger healing_audit_log_no_truncate
            before truncate on public.healing_audit_log
            for each statement execute function public.healing_audit_log_append_only();
    end if;
end;
$$;

-- Healing memory: one row per (issue signature, fix signature). The primary key serves "best fixes for
-- this signature" (an index range scan on its leading column); counters change in place, and since no
-- indexed column changes, updates stay HOT (fillfactor leaves room on each page for them).
create table if not exists public.healing_memory (
    issue_signature text collate "C" not null,
    fix_signature text collate "C" not null,
    component text not null,
    strategy text not null,
    params jsonb not null default '{}'::jsonb,
    risk text not null,
    success_count bigint not null default 0 check (success_count >= 0),
    failure_count bigint not null default 0 check (failure_count >= 0),
    last_outcome text check (last_outcome in ('success', 'failure')),
    last_success_at timestamptz,
    last_failure_at timestamptz,
    suggestions text[] not null default '{}',
    created_at timestamptz not null,
    updated_at timestamptz not null,
    primary key (issue_signature, fix_signature)
) with (fillfactor = 90);

-- Outcome ids already folded into memory: recording the same outcome twice counts it once.
create table if not exists public.healing_memory_outcomes (
    outcome_id text collate "C" primary key,
    issue_signature text collate "C" not null,
    fix_signature text collate "C" not null,
    success boolean not null,
    outcome_time timestamptz not null,
    recorded_at timestamptz not null default now()
);

create table if not exists public.healing_patches (
    id text collate "C" primary key,
    issue_id text collate "C" not null,
    component text not null,
    created_at timestamptz not null,
    data jsonb not null
);
create index if not exists healing_patches_by_issue on public.healing_patches (issue_id);
create index if not exists healing_patches_by_component on public.healing_patches (component, created_at);

-- Row level security and privileges.
do $$
declare
    tbl text;
    seq text;
    role_name text;
begin
    foreach tbl in array array[
        'healing_schema_migrations', 'healing_issues', 'healing_watermarks', 'healing_quarantine',
        'healing_counters', 'healing_leases', 'healing_audit_log', 'healing_memory',
        'healing_memory_outcomes', 'healing_patches'
    ] loop
        execute format('alter table public.%I enable row level security', tbl);
        execute format('revoke all on table public.%I from public', tbl);
        foreach role_name in array array['anon', 'authenticated'] loop
            if exists (select 1 from pg_roles where rolname = role_name) then
                execute format('revoke all on table public.%I from %I', tbl, role_name);
            end if;
        end loop;
        if exists (select 1 from pg_roles where rolname = 'service_role') then
            execute format('revoke all on table public.%I from service_role', tbl);
            if tbl = 'healing_audit_log' then
                execute format('grant select, insert on table public.%I to service_role', tbl);
            else
                execute format('grant select, insert, update, delete on table public.%I to service_role', tbl);
            end if;
            if not exists (select 1 from pg_policies where schemaname = 'public' and tablename = tbl
                           and policyname = 'healing_service_role_only') then
                execute format(
                    'create policy healing_service_role_only on public.%I as permissive for all '
                    'to service_role using (true) with check (true)', tbl);
            end if;
        end if;
    end loop;

    foreach seq in array array['healing_quarantine_seq_seq', 'healing_audit_log_seq_seq'] loop
        execute format('revoke all on sequence public.%I from public', seq);
        foreach role_name in array array['anon', 'authenticated'] loop
            if exists (select 1 from pg_roles where rolname = role_name) then
                execute format('revoke all on sequence public.%I from %I', seq, role_name);
            end if;
        end loop;
        if exists (select 1 from pg_roles where rolname = 'service_role') then
            execute format('revoke all on sequence public.%I from service_role', seq);
            execute format('grant usage, select on sequence public.%I to service_role', seq);
        end if;
    end loop;

    -- The trigger function is not an API: nobody but the owner may call it.
    execute 'revoke all on function public.healing_audit_log_append_only() from public';
    foreach role_name in array array['anon', 'authenticated', 'service_role'] loop
        if exists (select 1 from pg_roles where rolname = role_name) then
            execute format('revoke all on function public.healing_audit_log_append_only() from %I', role_name);
        end if;
    end loop;
end;
$$;

insert into public.healing_schema_migrations (name) values ('20261125000100_healing_store_schema')
on conflict (name) do nothing;
