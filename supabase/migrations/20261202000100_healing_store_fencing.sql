-- healing-mcp store, part 3: safe with many supervisors on one database.
--
-- - Lease expiry is decided by the database's clock (`now()`), never by the caller's: a supervisor
--   whose clock runs ahead cannot take a lease that is still alive. `p_now` stays for tests only.
-- - Intake watermarks move by compare-and-swap: a reader that started from an old watermark cannot
--   move it backwards or count the same lines again.
-- - An attempt is closed once: by its `finished` entry or, when its supervisor vanished, by an
--   `interrupted` one. A `finished` entry that arrives after the attempt was closed as interrupted (a
--   supervisor cut off from the database for longer than its lease, replaying its spool) is kept in
--   the audit log marked `late`, and its outcome is not counted in memory: the next supervisor already
--   re-applied the fix and counts its own outcome.
--
-- Same conventions as part 2: SECURITY INVOKER, empty search_path, EXECUTE for service_role only,
-- idempotent (`create or replace`, re-runnable grants).

-- Leases. Taken when free, expired, or held by the same holder (renewal); holders are unique per claim,
-- so a renewal is always the claimant itself. The upsert's WHERE is re-checked on the latest row version
-- under its row lock, so two racing holders can never both win.
create or replace function public.healing_acquire_lease(
    p_key text, p_holder text, p_ttl_seconds double precision, p_now timestamptz default now()
)
returns boolean
language plpgsql
security invoker
set search_path = ''
as $$
declare
    v_now timestamptz := coalesce(p_now, now());
    v_holder text;
begin
    insert into public.healing_leases as l (key, holder, expires_at, acquired_at)
    values (p_key, p_holder, v_now + make_interval(secs => p_ttl_seconds), v_now)
    on conflict (key) do update
    set holder = excluded.holder,
        expires_at = excluded.expires_at,
        acquired_at = case when l.holder = excluded.holder then l.acquired_at else excluded.acquired_at end
    where l.holder = excluded.holder or l.expires_at < v_now
    returning l.holder into v_holder;
    return v_holder is not null;
end;
$$;

create or replace function public.healing_claim_issues(
    p_states text[], p_limit integer, p_holder text, p_ttl_seconds double precision, p_now timestamptz default now()
)
returns setof jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
    v_now timestamptz := coalesce(p_now, now());
begin
    return query
    with candidates as (
        select i.id
        from public.healing_issues i
        where i.state = any (p_states)
          and (i.next_attempt_at is null or i.next_attempt_at <= v_now)
          and not exists (
              select 1 from public.healing_leases l
              where l.key = 'issue:' || i.id and l.expires_at >= v_now)
        order by i.is_resolved, i.severity_rank desc, i.last_seen desc, i.id
        limit greatest(p_limit, 0)
        for update of i skip locked
    ), claimed as (
        insert into public.healing_leases as l (key, holder, expires_at, acquired_at)
        select 'issue:' || c.id, p_holder, v_now + make_interval(secs => p_ttl_seconds), v_now from candidates c
        on conflict (key) do update
        set holder = excluded.holder, expires_at = excluded.expires_at, acquired_at = excluded.acquired_at
        where l.expires_at < v_now
        returning l.key
    )
    select i.data
    from public.healing_issues i
    join claimed on claimed.key = 'issue:' || i.id
    order by i.is_resolved, i.severity_rank desc, i.last_seen desc, i.id;
end;
$$;

-- One intake batch, atomically. A watermark item may carry "expected": the stored watermark the reader
-- started from ({"offset", "fingerprint"}, or null when there was none). It is written only if the
-- stored one is still exactly that; otherwise another reader consumed those lines first and the whole
-- batch is refused with SQLSTATE HW001 (nothing is written). Items without "expected" are written as is.
create or replace function public.healing_commit_intake(
    p_issues jsonb default '[]'::jsonb,
    p_watermarks jsonb default '[]'::jsonb,
    p_quarantined jsonb default '[]'::jsonb,
    p_events bigint default 0
)
returns table (id text, version bigint)
language plpgsql
security invoker
set search_path = ''
as $$
declare
    item jsonb;
    v_source text;
    v_written integer;
begin
    -- watermarks first: a refused batch fails before any issue is written
    for item in select value from jsonb_array_elements(coalesce(p_watermarks, '[]'::jsonb)) loop
        v_source := item ->> 'source';
        if not item ? 'expected' then
            insert into public.healing_watermarks as w (source, "offset", fingerprint, updated_at)
            values (v_source, (item ->> 'offset')::bigint, coalesce(item ->> 'fingerprint', ''),
                    coalesce((item ->> 'updated_at')::timestamptz, now()))
            on conflict (source) do update
            set "offset" = excluded."offset", fingerprint = excluded.fingerprint, updated_at = excluded.updated_at;
            continue;
        end if;
        if jsonb_typeof(item -> 'expected') = 'null' then
            insert into public.healing_watermarks (source, "offset", fingerprint, updated_at)
            values (v_source, (item ->> 'offset')::bigint, coalesce(item ->> 'fingerprint', ''),
                    coalesce((item ->> 'updated_at')::timestamptz, now()))
            on conflict (source) do nothing;
        else
            update public.healing_watermarks as w
            set "offset" = (item ->> 'offset')::bigint,
                fingerprint = coalesce(item ->> 'fingerprint', ''),
                updated_at = coalesce((item ->> 'updated_at')::timestamptz, now())
            where w.source = v_source
              and w."offset" = (item -> 'expected' ->> 'offset')::bigint
              and w.fingerprint = coalesce(item -> 'expected' ->> 'fingerprint', '');
        end if;
        get diagnostics v_written = row_count;
        if v_written = 0 then
            raise exception 'the watermark of % moved since this batch was read', v_source
                using errcode = 'HW001', hint = 'another reader consumed these lines; read from the stored watermark';
        end if;
    end loop;

    for item in select value from jsonb_array_elements(coalesce(p_issues, '[]'::jsonb)) loop
        id := item -> 'issue' ->> 'id';
        version := public.healing_put_issue(item -> 'issue', 'cas', (item ->> 'expected_version')::bigint);
        return next;
    end loop;

    insert into public.healing_quarantine (source, "offset", data)
    select q.value ->> 'source', (q.value ->> 'offset')::bigint, q.value
    from jsonb_array_elements(coalesce(p_quarantined, '[]'::jsonb)) as q
    on conflict (source, "offset") do nothing;

    if coalesce(p_events, 0) <> 0 then
        insert into public.healing_counters as c (name, value) values ('events_seen', p_events)
        on conflict (name) do update set value = c.value + excluded.value;
    end if;
    return;
end;
$$;

-- Audit: append one entry (AuditEntry JSON). Idempotent on (attempt_id, phase): a replay returns the
-- sequence number of the entry already stored. The closing phases of one attempt are serialised by a
-- transaction-scoped advisory lock on the attempt id (pooler-safe): `interrupted` is not stored once the
-- attempt has finished (the finished entry's seq is returned), and a `finished` entry after an
-- `interrupted` one is stored marked late (details.late), so its outcome is not counted.
create or replace function public.healing_append_audit(p_entry jsonb)
returns bigint
language plpgsql
security invoker
set search_path = ''
as $$
declare
    v_data jsonb := p_entry - 'seq';
    v_attempt text := v_data ->> 'attempt_id';
    v_phase text := v_data ->> 'phase';
    v_seq bigint;
begin
    if v_attempt is null or v_phase is null or v_data ->> 'issue_id' is null then
        raise exception 'healing_append_audit: the entry needs attempt_id, phase and issue_id'
            using errcode = 'invalid_parameter_value';
    end if;
    if v_phase in ('finished', 'interrupted') then
        perform pg_advisory_xact_lock(hashtextextended('healing_attempt:' || v_attempt, 0));
        if v_phase = 'interrupted' then
            select a.seq into v_seq
            from public.healing_audit_log a
            where a.attempt_id = v_attempt and a.phase = 'finished';
            if v_seq is not null then
                return v_seq;
            end if;
        elsif exists (select 1 from public.healing_audit_log a
                      where a.attempt_id = v_attempt and a.phase = 'interrupted') then
            v_data := jsonb_set(
                v_data, '{details}',
                coalesce(v_data -> 'details', '{}'::jsonb) || jsonb_build_object(
                    'late', 'the attempt had already been closed as interrupted; this outcome was not counted '
                            'in memory'));
        end if;
    end if;
    insert into public.healing_audit_log as a (attempt_id, phase, issue_id, time, data)
    values (v_attempt, v_phase, v_data ->> 'issue_id', coalesce((v_data ->> 'time')::timestamptz, now()), v_data)
    on conflict (attempt_id, phase) do nothing
    returning a.seq into v_seq;
    if v_seq is null then
        select a.seq into v_seq
        from public.healing_audit_log a
        where a.attempt_id = v_attempt and a.phase = v_phase;
    end if;
    return v_seq;
end;
$$;

-- The 'finished' audit entry and its outcome, in one transaction. The outcome is folded into memory
-- only if the stored finished entry is not late (see healing_append_audit); the memory row is returned
-- either way (no row when nothing was ever counted for this pair).
create or replace function public.healing_finish_attempt(p_entry jsonb, p_outcome jsonb)
returns table (
    issue_signature text, fix_signature text, component text, strategy text, params jsonb, risk text,
    success_count bigint, failure_count bigint, last_outcome text, last_success_at timestamptz,
    last_failure_at timestamptz, suggestions text[], created_at timestamptz, updated_at timestamptz,
    score double precision
)
language plpgsql
security invoker
set search_path = ''
as $$
declare
    v_seq bigint := public.healing_append_audit(p_entry);
begin
    if not exists (select 1 from public.healing_audit_log a where a.seq = v_seq and a.data -> 'details' ? 'late') then
        perform public.healing_fold_outcome(p_outcome);
    end if;
    return query select * from public.healing_memory_get(p_outcome ->> 'issue_signature', p_outcome ->> 'fix_signature');
end;
$$;

-- EXECUTE for service_role only (as in part 2; re-run so this file stands on its own).
do $$
declare
    fn regprocedure;
    role_name text;
begin
    for fn in
        select p.oid::regprocedure
        from pg_proc p
        join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'public' and p.proname like 'healing\_%' and p.prokind = 'f'
          and p.proname <> 'healing_audit_log_append_only'
    loop
        execute format('revoke all on function %s from public', fn);
        foreach role_name in array array['anon', 'authenticated'] loop
            if exists (select 1 from pg_roles where rolname = role_name) then
                execute format('revoke all on function %s from %I', fn, role_name);
            end if;
        end loop;
        if exists (select 1 from pg_roles where rolname = 'service_role') then
            execute format('grant execute on function %s to service_role', fn);
        end if;
    end loop;
end;
$$;

insert into public.healing_schema_migrations (name) values ('20261202000100_healing_store_fencing')
on conflict (name) do nothing;
