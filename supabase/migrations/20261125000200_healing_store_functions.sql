-- healing-mcp store, part 2: the SQL functions every client calls, directly (Postgres store) or over
-- PostgREST `rpc` (Supabase store), so both update atomically and rank identically.
--
-- All functions are SECURITY INVOKER (they run with the caller's rights: the owner or `service_role`)
-- and pin `search_path` to the empty string, so every name below is schema-qualified. EXECUTE is
-- granted to `service_role` only. Idempotent: `create or replace` plus re-runnable grants.

-- Wilson lower bound of the success rate, the ranking score of healing memory. The arithmetic follows
-- healing_mcp.core.ranking.wilson_lower_bound operation by operation in IEEE double precision, so both
-- give bit-identical results.
create or replace function public.healing_wilson_lower_bound(
    successes bigint, failures bigint, z double precision default 1.96
)
returns double precision
language plpgsql
immutable
parallel safe
security invoker
set search_path = ''
as $$
declare
    n bigint := successes + failures;
    p double precision;
    z2 double precision := z * z;
begin
    if n is null or n <= 0 then
        return 0.0;
    end if;
    p := successes::double precision / n::double precision;
    return greatest(
        0.0::double precision,
        ((p + z2 / (2 * n)::double precision)
            - z * sqrt((p * (1 - p) + z2 / (4 * n)::double precision) / n::double precision))
        / (1 + z2 / n::double precision)
    );
end;
$$;

-- Write one issue (the HealthIssue JSON). Modes:
--   'cas'       optimistic concurrency: p_expected_version null = the issue must not exist yet,
--               otherwise the stored version must equal it; a mismatch raises 40001 (retry).
--   'overwrite' last writer wins (what Store.save_issue means).
--   'if_newer'  like overwrite, but keeps the stored issue when it was updated later (spool replay).
-- Writing identical data is a no-op (the version does not move). Returns the stored version.
create or replace function public.healing_put_issue(
    p_issue jsonb, p_mode text default 'overwrite', p_expected_version bigint default null
)
returns bigint
language plpgsql
security invoker
set search_path = ''
as $$
declare
    v_id text := p_issue ->> 'id';
    v_rank integer := array_position(array['info', 'warning', 'error', 'critical'], p_issue ->> 'severity') - 1;
    v_version bigint;
begin
    if v_id is null or v_rank is null or p_issue ->> 'signature' is null then
        raise exception 'healing_put_issue: the issue needs id, signature and a known severity'
            using errcode = 'invalid_parameter_value';
    end if;
    if p_mode = 'cas' then
        if p_expected_version is null then
            insert into public.healing_issues as i
                (id, signature, component, state, severity_rank, last_seen, next_attempt_at, updated_at, version, data)
            values (v_id, p_issue ->> 'signature', p_issue ->> 'component', p_issue ->> 'state', v_rank,
                    (p_issue ->> 'last_seen')::timestamptz, (p_issue -> 'auto_fix' ->> 'next_attempt_at')::timestamptz,
                    (p_issue ->> 'updated_at')::timestamptz, 1, p_issue)
            on conflict do nothing  -- any unique index (id or signature): a concurrent insert won
            returning i.version into v_version;
        else
            update public.healing_issues as i
            set state = p_issue ->> 'state',
                component = p_issue ->> 'component',
                severity_rank = v_rank,
                last_seen = (p_issue ->> 'last_seen')::timestamptz,
                next_attempt_at = (p_issue -> 'auto_fix' ->> 'next_attempt_at')::timestamptz,
                updated_at = (p_issue ->> 'updated_at')::timestamptz,
                version = i.version + 1,
                data = p_issue
            where i.id = v_id and i.version = p_expected_version
            returning i.version into v_version;
        end if;
        if v_version is null then
            raise exception 'issue % was changed by another writer', v_id
                using errcode = 'serialization_failure', hint = 'read it again, merge, and retry';
        end if;
        return v_version;
    elsif p_mode not in ('overwrite', 'if_newer') then
        raise exception 'healing_put_issue: unknown mode %', p_mode using errcode = 'invalid_parameter_value';
    end if;

    for attempt in 1..3 loop
        begin
            insert into public.healing_issues as i
                (id, signature, component, state, severity_rank, last_seen, next_attempt_at, updated_at, version, data)
            values (v_id, p_issue ->> 'signature', p_issue ->> 'component', p_issue ->> 'state', v_rank,
                    (p_issue ->> 'last_seen')::timestamptz, (p_issue -> 'auto_fix' ->> 'next_attempt_at')::timestamptz,
                    (p_issue ->> 'updated_at')::timestamptz, 1, p_issue)
            on conflict (id) do update
            set state = excluded.state,
                component = excluded.component,
                severity_rank = excluded.severity_rank,
                last_seen = excluded.last_seen,
                next_attempt_at = excluded.next_attempt_at,
                updated_at = excluded.updated_at,
                version = i.version + 1,
                data = excluded.data
            where i.data is distinct from excluded.data
              and (p_mode = 'overwrite' or i.updated_at <= excluded.updated_at)
            returning i.version into v_version;
            exit;
        exception when unique_violation then
            -- a concurrent insert of the same issue won on the signature index: the next round updates it
            if attempt = 3 then
                raise;
            end if;
        end;
    end loop;
    if v_version is null then
        select i.version into v_version from public.healing_issues as i where i.id = v_id;
    end if;
    return v_version;
end;
$$;

-- One intake batch, atomically: issues (already merged by the client with merge_group, written with
-- compare-and-swap on their version), watermarks, quarantined lines and the events counter.
-- p_issues: [{"issue": {...}, "expected_version": n | null}, ...]. Returns the new version per issue.
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
begin
    for item in select value from jsonb_array_elements(coalesce(p_issues, '[]'::jsonb)) loop
        id := item -> 'issue' ->> 'id';
        version := public.healing_put_issue(item -> 'issue', 'cas', (item ->> 'expected_version')::bigint);
        return next;
    end loop;

    insert into public.healing_watermarks as w (source, "offset", fingerprint, updated_at)
    select m.source, m."offset", coalesce(m.fingerprint, ''), coalesce(m.updated_at, now())
    from jsonb_to_recordset(coalesce(p_watermarks, '[]'::jsonb))
        as m(source text, "offset" bigint, fingerprint text, updated_at timestamptz)
    on conflict (source) do update
    set "offset" = excluded."offset", fingerprint = excluded.fingerprint, updated_at = excluded.updated_at;

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

create or replace function public.healing_intake_stats(p_recent integer default 5)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
    select jsonb_build_object(
        'events_seen', coalesce((select c.value from public.healing_counters c where c.name = 'events_seen'), 0),
        'quarantined', (select count(*) from public.healing_quarantine),
        'recent_quarantine', coalesce(
            (select jsonb_agg(r.data order by r.seq desc)
             from (select q.seq, q.data from public.healing_quarantine q order by q.seq desc limit p_recent) r),
            '[]'::jsonb)
    );
$$;

create or replace function public.healing_issue_buckets(
    p_component text default null, p_since timestamptz default null, p_recent_since timestamptz default now()
)
returns table (component text, state text, severity_rank smallint, recent boolean, count bigint)
language sql
stable
security invoker
set search_path = ''
as $$
    select i.component, i.state, i.severity_rank, i.last_seen >= p_recent_since, count(*)
    from public.healing_issues i
    where (p_component is null or i.component = p_component)
      and (p_since is null or i.last_seen >= p_since)
    group by 1, 2, 3, 4;
$$;

-- Leases. A lease is taken when free, expired (expires_at < p_now) or already held by the same holder
-- (renewal). The upsert's WHERE is re-checked on the latest row version under its row lock, so two
-- racing holders can never both win.
create or replace function public.healing_acquire_lease(
    p_key text, p_holder text, p_ttl_seconds double precision, p_now timestamptz default now()
)
returns boolean
language plpgsql
security invoker
set search_path = ''
as $$
declare
    v_holder text;
begin
    insert into public.healing_leases as l (key, holder, expires_at, acquired_at)
    values (p_key, p_holder, p_now + make_interval(secs => p_ttl_seconds), p_now)
    on conflict (key) do update
    set holder = excluded.holder,
        expires_at = excluded.expires_at,
        acquired_at = case when l.holder = excluded.holder then l.acquired_at else excluded.acquired_at end
    where l.holder = excluded.holder or l.expires_at < p_now
    returning l.holder into v_holder;
    return v_holder is not null;
end;
$$;

create or replace function public.healing_release_lease(p_key text, p_holder text)
returns boolean
language plpgsql
security invoker
set search_path = ''
as $$
begin
    delete from public.healing_leases l where l.key = p_key and l.holder = p_holder;
    return found;
end;
$$;

-- Claim up to p_limit issues in the given states, most urgent first, that are due (no backoff pending)
-- and not leased at all (an unexpired lease, even p_holder's own, means someone works on it; renew with
-- healing_acquire_lease): each claimed issue gets the lease 'issue:<id>' for p_holder.
-- SKIP LOCKED keeps concurrent claimers off each other's rows; the lease upsert decides ties.
create or replace function public.healing_claim_issues(
    p_states text[], p_limit integer, p_holder text, p_ttl_seconds double precision, p_now timestamptz default now()
)
returns setof jsonb
language plpgsql
security invoker
set search_path = ''
as $$
begin
    return query
    with candidates as (
        select i.id
        from public.healing_issues i
        where i.state = any (p_states)
          and (i.next_attempt_at is null or i.next_attempt_at <= p_now)
          and not exists (
              select 1 from public.healing_leases l
              where l.key = 'issue:' || i.id and l.expires_at >= p_now)
        order by i.is_resolved, i.severity_rank desc, i.last_seen desc, i.id
        limit greatest(p_limit, 0)
        for update of i skip locked
    ), claimed as (
        insert into public.healing_leases as l (key, holder, expires_at, acquired_at)
        select 'issue:' || c.id, p_holder, p_now + make_interval(secs => p_ttl_seconds), p_now from candidates c
        on conflict (key) do update
        set holder = excluded.holder, expires_at = excluded.expires_at, acquired_at = excluded.acquired_at
        where l.expires_at < p_now
        returning l.key
    )
    select i.data
    from public.healing_issues i
    join claimed on claimed.key = 'issue:' || i.id
    order by i.is_resolved, i.severity_rank desc, i.last_seen desc, i.id;
end;
$$;

-- Audit: append one entry (AuditEntry JSON). Idempotent on (attempt_id, phase): a replay returns the
-- sequence number of the entry already stored.
create or replace function public.healing_append_audit(p_entry jsonb)
returns bigint
language plpgsql
security invoker
set search_path = ''
as $$
declare
    v_data jsonb := p_entry - 'seq';
    v_seq bigint;
begin
    if v_data ->> 'attempt_id' is null or v_data ->> 'phase' is null or v_data ->> 'issue_id' is null then
        raise exception 'healing_append_audit: the entry needs attempt_id, phase and issue_id'
            using errcode = 'invalid_parameter_value';
    end if;
    insert into public.healing_audit_log as a (attempt_id, phase, issue_id, time, data)
    values (v_data ->> 'attempt_id', v_data ->> 'phase', v_data ->> 'issue_id',
            coalesce((v_data ->> 'time')::timestamptz, now()), v_data)
    on conflict (attempt_id, phase) do nothing
    returning a.seq into v_seq;
    if v_seq is null then
        select a.seq into v_seq
        from public.healing_audit_log a
        where a.attempt_id = v_data ->> 'attempt_id' and a.phase = v_data ->> 'phase';
    end if;
    return v_seq;
end;
$$;

create or replace function public.healing_unfinished_attempts()
returns table (seq bigint, data jsonb)
language sql
stable
security invoker
set search_path = ''
as $$
    select a.seq, a.data
    from public.healing_audit_log a
    where a.phase = 'started'
      and not exists (
          select 1 from public.healing_audit_log b where b.attempt_id = a.attempt_id and b.seq > a.seq)
    order by a.seq;
$$;

-- Healing memory. Folding an outcome (OutcomeRecord JSON) is idempotent on outcome_id and increments
-- in place. last_outcome / last_*_at / updated_at only move forward in time, so an old outcome
-- replayed late (from a spool) never hides a newer one. Suggestions: distinct, at most 10, in byte order.
create or replace function public.healing_fold_outcome(p_outcome jsonb)
returns boolean
language plpgsql
security invoker
set search_path = ''
as $$
declare
    o record;
    v_fresh text;
begin
    select * into o
    from jsonb_to_record(p_outcome) as x(
        outcome_id text, issue_signature text, fix_signature text, component text, strategy text,
        params jsonb, risk text, success boolean, suggestion text, time timestamptz);
    if o.outcome_id is null or o.issue_signature is null or o.fix_signature is null or o.component is null
       or o.strategy is null or o.success is null or o.time is null then
        raise exception 'healing_fold_outcome: the outcome needs outcome_id, issue_signature, fix_signature, '
                        'component, strategy, success and time'
            using errcode = 'invalid_parameter_value';
    end if;

    insert into public.healing_memory_outcomes (outcome_id, issue_signature, fix_signature, success, outcome_time)
    values (o.outcome_id, o.issue_signature, o.fix_signature, o.success, o.time)
    on conflict (outcome_id) do nothing
    returning outcome_id into v_fresh;
    if v_fresh is null then
        return false;
    end if;

    insert into public.healing_memory as m (
        issue_signature, fix_signature, component, strategy, params, risk, success_count, failure_count,
        last_outcome, last_success_at, last_failure_at, suggestions, created_at, updated_at)
    values (
        o.issue_signature, o.fix_signature, o.component, o.strategy, coalesce(o.params, '{}'::jsonb),
        coalesce(o.risk, 'reversible'),
        case when o.success then 1 else 0 end,
        case when o.success then 0 else 1 end,
        case when o.success then 'success' else 'failure' end,
        case when o.success then o.time end,
        case when o.success then null else o.time end,
        case when coalesce(o.suggestion, '') = '' then '{}'::text[] else array[o.suggestion] end,
        o.time, o.time)
    on conflict (issue_signature, fix_signature) do update
    set success_count = m.success_count + excluded.success_count,
        failure_count = m.failure_count + excluded.failure_count,
        last_outcome = case when excluded.updated_at >= m.updated_at then excluded.last_outcome
                            else m.last_outcome end,
        last_success_at = greatest(m.last_success_at, excluded.last_success_at),
        last_failure_at = greatest(m.last_failure_at, excluded.last_failure_at),
        params = excluded.params,
        updated_at = greatest(m.updated_at, excluded.updated_at),
        suggestions = case
            when cardinality(excluded.suggestions) = 0 then m.suggestions
            else array(
                select d.s from (select distinct u as s from unnest(m.suggestions || excluded.suggestions) as u) d
                order by d.s collate "C" limit 10)
            end;
    return true;
end;
$$;

create or replace function public.healing_memory_get(p_issue_signature text, p_fix_signature text)
returns table (
    issue_signature text, fix_signature text, component text, strategy text, params jsonb, risk text,
    success_count bigint, failure_count bigint, last_outcome text, last_success_at timestamptz,
    last_failure_at timestamptz, suggestions text[], created_at timestamptz, updated_at timestamptz,
    score double precision
)
language sql
stable
security invoker
set search_path = ''
as $$
    select m.issue_signature, m.fix_signature, m.component, m.strategy, m.params, m.risk, m.success_count,
           m.failure_count, m.last_outcome, m.last_success_at, m.last_failure_at, m.suggestions, m.created_at,
           m.updated_at, public.healing_wilson_lower_bound(m.success_count, m.failure_count)
    from public.healing_memory m
    where m.issue_signature = p_issue_signature and m.fix_signature = p_fix_signature;
$$;

create or replace function public.healing_record_outcome(p_outcome jsonb)
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
begin
    perform public.healing_fold_outcome(p_outcome);
    return query select * from public.healing_memory_get(p_outcome ->> 'issue_signature', p_outcome ->> 'fix_signature');
end;
$$;

-- The 'finished' audit entry and its outcome, in one transaction.
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
begin
    perform public.healing_append_audit(p_entry);
    perform public.healing_fold_outcome(p_outcome);
    return query select * from public.healing_memory_get(p_outcome ->> 'issue_signature', p_outcome ->> 'fix_signature');
end;
$$;

-- Best fixes for one issue signature: an index range scan on the primary key's leading column, ranked
-- by the Wilson lower bound, then successes, then recency, then fix signature (byte order).
create or replace function public.healing_best_fixes(p_issue_signature text, p_limit integer default 5)
returns table (
    issue_signature text, fix_signature text, component text, strategy text, params jsonb, risk text,
    success_count bigint, failure_count bigint, last_outcome text, last_success_at timestamptz,
    last_failure_at timestamptz, suggestions text[], created_at timestamptz, updated_at timestamptz,
    score double precision
)
language sql
stable
security invoker
set search_path = ''
as $$
    select r.*
    from (
        select m.issue_signature, m.fix_signature, m.component, m.strategy, m.params, m.risk, m.success_count,
               m.failure_count, m.last_outcome, m.last_success_at, m.last_failure_at, m.suggestions, m.created_at,
               m.updated_at, public.healing_wilson_lower_bound(m.success_count, m.failure_count) as score
        from public.healing_memory m
        where m.issue_signature = p_issue_signature
    ) r
    order by r.score desc, r.success_count desc, r.updated_at desc, r.fix_signature
    limit greatest(p_limit, 0);
$$;

create or replace function public.healing_memory_insights(p_limit integer default 10)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
    with totals as (
        select count(*) as records, count(distinct m.issue_signature) as signatures,
               coalesce(sum(m.success_count), 0) as successes, coalesce(sum(m.failure_count), 0) as failures
        from public.healing_memory m
    ), candidates as (
        select m.*, m.success_count::double precision / (m.success_count + m.failure_count) as rate,
               public.healing_wilson_lower_bound(m.success_count, m.failure_count) as score
        from public.healing_memory m
        where m.success_count > 0
        order by rate desc, m.success_count desc
        limit 4 * greatest(p_limit, 0)
    ), top as (
        select c.* from candidates c order by c.score desc, c.rate desc, c.success_count desc, c.fix_signature
        limit greatest(p_limit, 0)
    ), failing as (
        select m.*, public.healing_wilson_lower_bound(m.success_count, m.failure_count) as score
        from public.healing_memory m
        where m.failure_count > m.success_count
        order by m.failure_count desc, m.issue_signature, m.fix_signature
        limit greatest(p_limit, 0)
    )
    select jsonb_build_object(
        'records', t.records,
        'signatures', t.signatures,
        'successes', t.successes,
        'failures', t.failures,
        'top_fixes', coalesce((select jsonb_agg(to_jsonb(x) - 'rate' order by x.score desc, x.rate desc,
                                                x.success_count desc, x.fix_signature) from top x), '[]'::jsonb),
        'failing_fixes', coalesce((select jsonb_agg(to_jsonb(y) order by y.failure_count desc, y.issue_signature,
                                                    y.fix_signature) from failing y), '[]'::jsonb))
    from totals t;
$$;

-- Patches (PatchSuggestion JSON), upserted by id.
create or replace function public.healing_save_patch(p_patch jsonb)
returns text
language plpgsql
security invoker
set search_path = ''
as $$
begin
    if p_patch ->> 'id' is null or p_patch ->> 'issue_id' is null or p_patch ->> 'component' is null then
        raise exception 'healing_save_patch: the patch needs id, issue_id and component'
            using errcode = 'invalid_parameter_value';
    end if;
    insert into public.healing_patches as p (id, issue_id, component, created_at, data)
    values (p_patch ->> 'id', p_patch ->> 'issue_id', p_patch ->> 'component',
            coalesce((p_patch ->> 'created_at')::timestamptz, now()), p_patch)
    on conflict (id) do update set data = excluded.data, created_at = excluded.created_at;
    return p_patch ->> 'id';
end;
$$;

-- What a client checks on connect: the role it runs as and the migrations applied.
create or replace function public.healing_store_info()
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
    select jsonb_build_object(
        'role', current_user::text,
        'migrations', coalesce(
            (select jsonb_agg(m.name order by m.name) from public.healing_schema_migrations m), '[]'::jsonb));
$$;

-- EXECUTE for service_role only (Supabase's default privileges would give it to anon and authenticated).
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

insert into public.healing_schema_migrations (name) values ('20261125000200_healing_store_functions')
on conflict (name) do nothing;
