"""The healing loop: scan -> group -> diagnose -> rank fixes -> safety gate -> fix -> retest -> record.

One :class:`Supervisor` pass:

1. **Recover** attempts a previous run left unfinished: each gets an ``interrupted`` audit entry and its
   issue goes back to ``open``; its unknown outcome is not counted in memory.
2. **Scan**: poll active sensors, then read new JSONL events; both go through intake into issues.
3. For each open issue, most urgent first, up to ``max_fixes_per_run`` attempts in the pass:
   claim it (lease), check the guards (backoff, circuit breaker, flapping), **diagnose** (rules, memory,
   LLM), **rank** plans (proven fixes from memory first, without re-deriving them; fresh proposals
   only if those fail), pass each through the **safety policy**, **apply**, **retest**, **record**.
4. Issues that cannot be fixed safely are **escalated** with patch suggestions; issues whose fixes keep
   failing become **persistent** (the circuit breaker) and get patch suggestions too.

Interruption is safe because an attempt is bracketed: a ``started`` audit entry before apply, and after
the retest the ``finished`` entry and the memory update are written in one store transaction
(``Store.finish_attempt``). Memory and audit therefore always agree; a ``started`` entry without its
``finished`` one is exactly an interrupted attempt.

Leases: every claim (the pass, one issue) gets its own holder name (the supervisor's plus a nonce), so a
pass and an explicit ``healing_auto_fix`` in the same process cannot both hold one issue, and releasing
frees only what that claim took. A lease is renewed in the background while its work runs, so a slow
but healthy fix keeps it; it expires only when its supervisor is gone (or cut off from the store). If a
cut-off supervisor's attempt was closed as interrupted meanwhile, its late ``finished`` entry is kept
but not counted in memory (``Store.finish_attempt``).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar

import anyio

from healing_mcp.components.base import (
    Component,
    ComponentContext,
    NoSafeFix,
    PatchWriter,
    PollingSensor,
    Reverter,
)
from healing_mcp.components.registry import Registry
from healing_mcp.config import Settings
from healing_mcp.core.diagnosis import LLMDiagnoser, diagnose
from healing_mcp.core.health import component_health, overall_state
from healing_mcp.core.intake import Intake
from healing_mcp.core.issues import is_flapping
from healing_mcp.core.patches import generic_suggestion, sanitize, write_patch_file
from healing_mcp.core.policy import SafetyPolicy
from healing_mcp.core.ranking import rank_plans
from healing_mcp.logs import get_logger
from healing_mcp.models import (
    AuditEntry,
    Event,
    FixOutcome,
    FixPlan,
    FixResult,
    FixRisk,
    HealthIssue,
    HealthState,
    IssueState,
    PatchReason,
    PatchSuggestion,
    PolicyDecision,
    RetestResult,
    SupervisorRunResult,
    utcnow,
)
from healing_mcp.redact import redact, redact_text
from healing_mcp.store.base import IssueQuery, OutcomeRecord, Store, StoreError, StoreUnavailable, issue_lease_key

log = get_logger(__name__)

ProgressFn = Callable[[float, float | None, str], Awaitable[None]]
RUN_LEASE = "supervisor-pass"
T = TypeVar("T")


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


async def _no_progress(_: float, __: float | None, ___: str) -> None:
    return None


class ComponentError(Exception):
    """A call into a component raised, timed out or answered the wrong type; the message says which."""


Check = Callable[[str, object], T]  # (what was called, its answer) -> the answer, or ComponentError


def _kind(answer: object) -> str:
    return "None" if answer is None else f"a {type(answer).__name__}"


def _plans(what: str, answer: object) -> list[FixPlan]:
    if isinstance(answer, list | tuple) and all(isinstance(plan, FixPlan) for plan in answer):
        return list(answer)
    raise ComponentError(f"{what} returned {_kind(answer)}; it must return a list of FixPlan")


def _result(what: str, answer: object) -> FixResult:
    if isinstance(answer, FixResult):
        return answer
    raise ComponentError(f"{what} returned {_kind(answer)}; it must return a FixResult")


def _retest(what: str, answer: object) -> RetestResult:
    if isinstance(answer, RetestResult):
        return answer
    raise ComponentError(f"{what} returned {_kind(answer)}; it must return a RetestResult")


def _events(what: str, answer: object) -> list[Event]:
    if isinstance(answer, list | tuple) and all(isinstance(event, Event) for event in answer):
        return list(answer)
    raise ComponentError(f"{what} returned {_kind(answer)}; it must return a list of Event")


def _patch(what: str, answer: object) -> PatchSuggestion | None:
    if answer is None or isinstance(answer, PatchSuggestion):
        return answer
    raise ComponentError(f"{what} returned {_kind(answer)}; it must return a PatchSuggestion or None")


def _anything(_: str, answer: object) -> object:
    return answer


@dataclass
class Budget:
    """How many more fix attempts this pass (or this call) may make."""

    remaining: int

    def take(self) -> bool:
        if self.remaining <= 0:
            return False
        self.remaining -= 1
        return True


@dataclass
class HealReport:
    """What healing one issue did. The supervisor pass and ``healing_auto_fix`` both return these."""

    issue: HealthIssue
    outcomes: list[FixOutcome] = field(default_factory=list)
    patches: list[PatchSuggestion] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: str | None = None

    @property
    def healed(self) -> bool:
        return any(o.successful for o in self.outcomes)


class Supervisor:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        registry: Registry,
        *,
        intake: Intake | None = None,
        llm: LLMDiagnoser | None = None,
        holder: str | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.registry = registry
        self.intake = intake or Intake(store, registry, settings.resolved_events_dir)
        self.llm = llm
        self.guards = settings.supervisor
        self.policy = SafetyPolicy(settings.environment, settings.allow_prod_healing)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._open_attempts: dict[str, AuditEntry] = {}  # issue id -> its attempt's 'started' entry
        self._pass_lock = anyio.Lock()

    def context(self, component: Component, run_id: str, dry_run: bool) -> ComponentContext:
        return ComponentContext(
            settings=self.settings,
            config=self.settings.component_config(component.name),
            store=self.store,
            log=log.bind(component=component.name, run_id=run_id),
            run_id=run_id,
            dry_run=dry_run,
        )

    # ------------------------------------------------------------------------------ the pass

    async def run_pass(
        self,
        *,
        dry_run: bool = False,
        component: str | None = None,
        max_fixes: int | None = None,
        progress: ProgressFn | None = None,
    ) -> SupervisorRunResult:
        run_id = new_id("run")
        started = utcnow()
        progress = progress or _no_progress
        async with self._pass_lock:
            try:
                claim = await self._claim(RUN_LEASE)
            except StoreUnavailable as exc:
                summary = f"The store is unreachable ({exc}); nothing was done."
                return self._result(run_id, dry_run, started, HealthState.degraded, summary, degraded=str(exc))
            if claim is None:
                summary = "Another supervisor pass is running against this store; nothing was done. Try again later."
                return self._result(run_id, dry_run, started, await self.overall(), summary)
            return await self._holding(
                RUN_LEASE, claim, lambda: self._pass(run_id, started, dry_run, component, max_fixes, progress)
            )

    def _result(
        self,
        run_id: str,
        dry_run: bool,
        started: datetime,
        overall: HealthState,
        summary: str,
        *,
        degraded: str | None = None,
        outcomes: list[FixOutcome] | None = None,
        errors: list[str] | None = None,
    ) -> SupervisorRunResult:
        """The result of a pass that did nothing, or stopped early."""
        return SupervisorRunResult(
            run_id=run_id,
            dry_run=dry_run,
            started_at=started,
            finished_at=utcnow(),
            events_ingested=0,
            quarantined=0,
            issues_seen=0,
            outcomes=outcomes or [],
            errors=errors or [],
            overall=overall,
            summary=summary,
            store_degraded=degraded or self.degraded_reason(),
        )

    def degraded_reason(self) -> str | None:
        """Why the database is unreachable right now, for stores that can tell (the spooling wrapper)."""
        reason = getattr(self.store, "degraded_reason", None)
        return reason if isinstance(reason, str) else None

    async def ingest(self) -> bool:
        """Read new events into issues without fixing anything. Skipped (False) while a pass runs,
        here or in another process: the pass ingests them itself, and two readers would double-count."""
        if self._pass_lock.locked():
            return False
        if not await self.intake.pending():
            return True  # nothing new: no lease, no write transaction (keeps reports cheap)
        async with self._pass_lock:
            claim = await self._claim(RUN_LEASE)
            if claim is None:
                return False
            await self._holding(RUN_LEASE, claim, self.intake.ingest_files)
        return True

    # ------------------------------------------------------------------------------ leases

    async def _claim(self, key: str) -> str | None:
        """Take ``key`` under a holder name of its own (this supervisor's plus a nonce) and return that name,
        or None when it is held. One name per claim: a second claim from this same process is refused
        instead of being taken for a renewal of the first."""
        holder = f"{self.holder}:{uuid.uuid4().hex[:8]}"
        return holder if await self.store.acquire_lease(key, holder, self.guards.lease_seconds) else None

    async def _holding(self, key: str, holder: str, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work`` under a claim: renewed in the background meanwhile, released afterwards."""
        results: list[T] = []
        failures: list[Exception] = []
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self._keep_renewed, key, holder)
                try:
                    results.append(await work())
                except Exception as exc:  # re-raised below as itself, not inside the task group's ExceptionGroup
                    failures.append(exc)
                finally:
                    group.cancel_scope.cancel()
        finally:
            await self.store.release_lease(key, holder)
        if failures:
            raise failures[0]
        return results[0]

    async def _keep_renewed(self, key: str, holder: str) -> None:
        """Renew a claim every third of its lifetime, so it expires only if this supervisor is gone."""
        ttl = self.guards.lease_seconds
        while True:
            await anyio.sleep(ttl / 3)
            try:
                renewed = await self.store.acquire_lease(key, holder, ttl)
            except StoreError as exc:  # unreachable for now: try again; the claim may expire meanwhile
                log.warning("lease not renewed", key=key, error=str(exc))
                continue
            if not renewed:
                log.warning("lease lost: it expired and another supervisor took it over", key=key)
                return

    async def _pass(
        self,
        run_id: str,
        started: datetime,
        dry_run: bool,
        only: str | None,
        max_fixes: int | None,
        progress: ProgressFn,
    ) -> SupervisorRunResult:
        errors: list[str] = []
        outcomes: list[FixOutcome] = []
        try:
            return await self._pass_steps(run_id, started, dry_run, only, max_fixes, progress, errors, outcomes)
        except StoreUnavailable as exc:
            # The database went away mid-pass. What was already written is kept by a spooling store and
            # replayed exactly once later; stop here and say so rather than failing the whole call.
            errors.append(f"the store became unreachable: {exc}")
            summary = (
                f"The store became unreachable during the pass and it stopped early after {len(outcomes)} "
                "attempt(s). Their outcomes are kept locally and replayed when the store is back."
            )
            return self._result(
                run_id,
                dry_run,
                started,
                HealthState.degraded,
                summary,
                degraded=self.degraded_reason() or str(exc),
                outcomes=outcomes,
                errors=errors,
            )

    async def _pass_steps(
        self,
        run_id: str,
        started: datetime,
        dry_run: bool,
        only: str | None,
        max_fixes: int | None,
        progress: ProgressFn,
        errors: list[str],
        outcomes: list[FixOutcome],
    ) -> SupervisorRunResult:
        await progress(0, None, "recovering interrupted attempts")
        await self.recover(run_id)

        await progress(0, None, "polling sensors")
        polled: list[Event] = []
        for component in self.registry.components.values():
            sensor = component.sensor
            if (only and component.name != only) or not isinstance(sensor, PollingSensor):
                continue
            what = f"the {component.name} sensor's poll"
            try:
                ctx = self.context(component, run_id, dry_run)
                polled.extend(await self._call(component, what, partial(sensor.poll, ctx), "poll", _events))
            except ComponentError as exc:
                message = str(exc)
                errors.append(redact_text(message))
                polled.append(Event(component=component.name, kind="sensor_error", message=message, target="poll"))
        summary = await self.intake.ingest_events(polled, source="poll")

        await progress(0, None, "reading event logs")
        files = await self.intake.ingest_files()
        events = summary.events + files.events
        quarantined = summary.quarantined + files.quarantined

        page = await self.store.query_issues(
            IssueQuery(component=only, states=[IssueState.open, IssueState.fixing], limit=1000)
        )
        candidates = page.issues
        budget = Budget(self.guards.max_fixes_per_run if max_fixes is None else max_fixes)
        resolved: list[str] = []
        escalated: list[str] = []
        skipped: dict[str, str] = {}
        total = len(candidates)
        for index, issue in enumerate(candidates):
            await progress(index, total, f"healing {issue.id}: {issue.title}")
            if budget.remaining <= 0:
                skipped[issue.id] = "the fix budget of this pass is used up; it is next in line"
                continue
            try:
                report = await self.heal(issue, run_id=run_id, dry_run=dry_run, budget=budget)
            except StoreUnavailable:
                raise
            except Exception as exc:  # one issue's crash is recorded; the pass goes on with the others
                report = await self._crashed(issue, run_id, exc, dry_run=dry_run)
            outcomes.extend(report.outcomes)
            errors.extend(report.errors)
            if report.skipped:
                skipped[issue.id] = report.skipped
            if report.healed and not dry_run:
                resolved.append(issue.id)
            if report.issue.state in (IssueState.escalated, IssueState.persistent) and report.patches:
                escalated.append(issue.id)
        await progress(total, total, "done")
        degraded = self.degraded_reason()
        overall = HealthState.degraded if degraded else await self.overall()
        attempted = sum(1 for o in outcomes if o.result is not None)
        text = (
            f"Ingested {events} event(s) ({quarantined} quarantined) touching "
            f"{len(summary.touched) + len(files.touched)} issue(s); {len(candidates)} open issue(s) considered, "
            f"{attempted} fix(es) applied{' (dry run: none applied)' if dry_run else ''}, "
            f"{len(resolved)} resolved, {len(escalated)} escalated to a human, {len(skipped)} skipped. "
            f"System is {overall.value}."
        )
        return SupervisorRunResult(
            run_id=run_id,
            dry_run=dry_run,
            started_at=started,
            finished_at=utcnow(),
            events_ingested=events,
            quarantined=quarantined,
            issues_seen=len(candidates),
            outcomes=outcomes,
            resolved=resolved,
            escalated=escalated,
            skipped=skipped,
            errors=errors,
            overall=overall,
            summary=text + (f" The store is degraded: {degraded}." if degraded else ""),
            store_degraded=degraded,
        )

    async def overall(self) -> HealthState:
        now = utcnow()
        buckets = await self.store.issue_buckets(
            component=None,
            since=None,
            recent_since=now - timedelta(seconds=self.settings.recent_window_seconds),
        )
        return overall_state(component_health(buckets, self.registry.components, self.registry.failures))

    # ------------------------------------------------------------------------------ recovery

    async def recover(self, run_id: str) -> int:
        """Close attempts a crashed run left open and make sure finished outcomes are in memory."""
        recovered = 0
        for entry in await self.store.unfinished_attempts():
            lease = issue_lease_key(entry.issue_id)
            claim = await self._claim(lease)
            if claim is None:
                continue  # its supervisor is alive and still working on it
            try:
                await self.store.append_audit(
                    entry.model_copy(
                        update={
                            "seq": None,
                            "time": utcnow(),
                            "phase": "interrupted",
                            "run_id": run_id,
                            "why": f"the run {entry.run_id} stopped before this attempt finished; "
                            "its outcome is unknown and was not counted in memory",
                        }
                    )
                )
                issue = await self.store.get_issue(entry.issue_id)
                if issue is not None and issue.state is IssueState.fixing:
                    issue.state = IssueState.open
                    issue.auto_fix.notes.append(f"attempt {entry.attempt_id} was interrupted")
                    await self.store.save_issue(issue)
                recovered += 1
            finally:
                await self.store.release_lease(lease, claim)
        return recovered

    @staticmethod
    def _outcome_record(entry: AuditEntry, plan: FixPlan) -> OutcomeRecord:
        """What memory keeps of a finished attempt. The plan's real parameters, not the audit entry's
        redacted copy: memory replays them, and a replay must act on what the fixer proposed."""
        return OutcomeRecord(
            outcome_id=entry.attempt_id,
            issue_signature=entry.issue_signature,
            fix_signature=entry.fix_signature,
            component=entry.component,
            strategy=entry.strategy,
            params=plan.params,
            risk=entry.risk,
            success=bool(entry.successful),
            suggestion=entry.details.get("suggestion"),
            time=entry.time,
        )

    # ------------------------------------------------------------------------------ one issue

    async def heal(
        self,
        issue: HealthIssue,
        *,
        run_id: str | None = None,
        dry_run: bool = False,
        approve: bool = False,
        explicit: bool = False,
        budget: Budget | None = None,
    ) -> HealReport:
        """Try to heal one issue. ``explicit`` means a caller asked for this issue by name: backoff,
        breaker and flapping guards are bypassed (the safety policy never is)."""
        run_id = run_id or new_id("run")
        budget = budget or Budget(self.guards.plans_per_issue)
        lease = issue_lease_key(issue.id)
        claim = await self._claim(lease)
        if claim is None:
            return HealReport(issue=issue, skipped="another supervisor pass or call is working on this issue right now")

        async def work() -> HealReport:
            fresh = await self.store.get_issue(issue.id)
            return await self._heal(fresh or issue, run_id, dry_run, approve, explicit, budget)

        return await self._holding(lease, claim, work)

    def not_installed(self, name: str) -> str:
        """Why events of component ``name`` can only be reported and escalated, and what to do about it."""
        installed = ", ".join(sorted(self.registry.components)) or "none"
        if self.settings.enabled_components is not None and name not in self.settings.enabled_components:
            hint = f"if it is installed, add {name!r} to HEALING_ENABLED_COMPONENTS"
        else:
            hint = (
                "install a plugin that provides it (an entry point in the healing_mcp.components group, or "
                "HEALING_PLUGINS=package.module:attribute)"
            )
        return f"no component named {name!r} is loaded (loaded: {installed}); {hint}"

    def _guard(self, issue: HealthIssue, now: datetime, explicit: bool) -> tuple[str | None, str | None]:
        """(skip reason, escalation reason): why this issue must not be auto-fixed right now."""
        if explicit:
            return None, None
        if issue.state is IssueState.resolved:
            return "already resolved", None
        if issue.state in (IssueState.persistent, IssueState.escalated):
            return f"{issue.state.value}: waiting for a human (see healing_suggest_manual_patches)", None
        if is_flapping(issue, now, self.guards.flap_limit, self.guards.flap_window_seconds):
            return None, "flapping"
        nxt = issue.auto_fix.next_attempt_at
        if nxt is not None and nxt > now:
            return (
                f"backing off after a failed fix; next attempt after {nxt.isoformat(timespec='seconds')}",
                None,
            )
        if issue.auto_fix.attempts >= self.guards.max_attempts:
            return None, "persistent"
        return None, None

    async def _heal(
        self,
        issue: HealthIssue,
        run_id: str,
        dry_run: bool,
        approve: bool,
        explicit: bool,
        budget: Budget,
    ) -> HealReport:
        now = utcnow()
        report = HealReport(issue=issue)
        skip, escalate = self._guard(issue, now, explicit)
        if skip:
            report.skipped = skip
            return report
        component = self.registry.get(issue.component)
        memory = await self.store.best_fixes(issue.signature, limit=10)
        diagnosis, rule_errors = await diagnose(issue, component, memory, self.llm)
        report.errors.extend(rule_errors)
        issue.probable_causes, issue.recommended_fixes = diagnosis.causes, diagnosis.fixes
        if escalate == "flapping":
            note = (
                f"came back {issue.reopen_count} time(s) after being fixed; auto-fix suspended so it does "
                "not loop. A lasting fix needs a human."
            )
            return await self._escalate(report, component, run_id, dry_run, "flapping", note, None)
        if escalate == "persistent":
            note = f"{issue.auto_fix.attempts} fix attempts did not resolve it."
            return await self._escalate(report, component, run_id, dry_run, "persistent", note, None)
        if component is None:
            why = self.registry.failures.get(issue.component) or self.not_installed(issue.component)
            return await self._escalate(report, None, run_id, dry_run, "no_fix", f"Cannot auto-fix: {why}.", None)

        ctx = self.context(component, run_id, dry_run)
        tried: set[str] = set()
        held_back: list[tuple[FixOutcome, FixPlan]] = []
        refusals: list[str] = []
        failed = 0
        for round_ in ("memory", "derived"):
            if round_ == "memory":
                plans = rank_plans(memory, [], self.guards.breaker_threshold)
            else:
                proposals = await self._propose(issue, component, ctx, report, refusals)
                plans = rank_plans(memory, proposals, self.guards.breaker_threshold)
            for plan in plans:
                if plan.signature in tried or component.fixer(plan.strategy) is None:
                    continue  # already tried, or remembered from a fixer that is no longer installed
                if len(tried) >= self.guards.plans_per_issue:
                    break
                tried.add(plan.signature)
                outcome = await self._attempt(issue, plan, component, ctx, dry_run, approve, budget)
                if outcome is None:  # budget exhausted
                    report.skipped = report.skipped or "the fix budget of this pass is used up"
                    break
                report.outcomes.append(outcome)
                if outcome.decision is not PolicyDecision.allow:
                    held_back.append((outcome, plan))
                elif outcome.result is not None and not outcome.successful:
                    failed += 1
                if outcome.successful:
                    break
            if report.healed or (dry_run and report.outcomes) or budget.remaining <= 0:
                break

        if dry_run:
            return report
        if report.healed:
            win = next(o for o in report.outcomes if o.successful)
            issue.state = IssueState.resolved
            issue.resolved_at = utcnow()
            issue.auto_fix.successful = True
            issue.auto_fix.strategy = win.plan.strategy
            issue.auto_fix.fix_signature = win.fix_signature
            issue.auto_fix.consecutive_failures = 0
            issue.auto_fix.next_attempt_at = None
            issue.auto_fix.notes.append(
                f"healed by {win.plan.strategy} ({win.plan.source}); retest: "
                + ("; ".join(win.retest.notes) if win.retest and win.retest.notes else "passed")
            )
            for outcome, _ in held_back:  # a safer plan worked: the held-back ones need no human
                outcome.decision_reason += " (not needed: another fix worked)"
            await self.store.save_issue(issue)
            return report
        if failed:
            issue.auto_fix.consecutive_failures += failed
            if (
                issue.auto_fix.consecutive_failures >= self.guards.breaker_threshold
                or issue.auto_fix.attempts >= self.guards.max_attempts
            ):
                note = (
                    f"{issue.auto_fix.consecutive_failures} consecutive failed fixes opened the circuit "
                    "breaker; no more automatic attempts."
                )
                return await self._escalate(report, component, run_id, dry_run, "persistent", note, None)
            delay = self._backoff(issue.auto_fix.consecutive_failures)
            issue.state = IssueState.open
            issue.auto_fix.next_attempt_at = utcnow() + timedelta(seconds=delay)
            issue.auto_fix.notes.append(f"fix failed; next attempt in {delay:.0f}s")
            await self.store.save_issue(issue)
            return report
        if held_back:
            outcome, plan = held_back[0]
            reason: PatchReason = "denied_by_policy" if outcome.decision is PolicyDecision.deny else "needs_approval"
            note = f"The fix '{plan.strategy}' was not applied: {outcome.decision_reason}."
            return await self._escalate(report, component, run_id, dry_run, reason, note, held_back)
        if report.skipped:
            await self.store.save_issue(issue)
            return report
        why = "; ".join(refusals) if refusals else "no fixer had a safe fix for this failure"
        reason = "refused" if refusals else "no_fix"
        return await self._escalate(report, component, run_id, dry_run, reason, f"Not auto-fixed: {why}.", None)

    async def _propose(
        self,
        issue: HealthIssue,
        component: Component,
        ctx: ComponentContext,
        report: HealReport,
        refusals: list[str],
    ) -> list[FixPlan]:
        proposals: list[FixPlan] = []
        for fixer in component.fixers:
            try:
                plans = await self._call(
                    component,
                    f"fixer {component.name}.{fixer.name} propose",
                    partial(fixer.propose, issue, ctx),
                    "propose",
                    _plans,
                )
            except NoSafeFix as refusal:
                refusals.append(f"{fixer.name}: {refusal}")
            except ComponentError as exc:
                report.errors.append(redact_text(str(exc)))
            else:
                proposals.extend(plan.model_copy(update={"component": component.name}) for plan in plans)
        return proposals

    async def _call(
        self, component: Component, what: str, call: Callable[[], Awaitable[object]], kind: str, check: Check[T]
    ) -> T:
        """One call into a component, isolated: bounded by the component's ``<kind>_timeout_seconds`` and
        its answer checked. Whatever goes wrong comes back as a :class:`ComponentError` saying what;
        ``NoSafeFix`` (a fixer's reasoned refusal) passes through."""
        seconds = self.settings.component_timeout(component.name, kind)
        answer: object = None
        try:
            with anyio.move_on_after(seconds) as deadline:
                answer = await call()
        except NoSafeFix:
            raise
        except Exception as exc:
            raise ComponentError(f"{what} failed: {type(exc).__name__}: {exc}") from exc
        if deadline.cancelled_caught:
            raise ComponentError(
                f"{what} did not finish within {seconds:g} s (raise {kind}_timeout_seconds in "
                f"[components.{component.name}] if it needs longer)"
            )
        return check(what, answer)

    async def _attempt(
        self,
        issue: HealthIssue,
        plan: FixPlan,
        component: Component,
        ctx: ComponentContext,
        dry_run: bool,
        approve: bool,
        budget: Budget,
    ) -> FixOutcome | None:
        fixer = component.fixer(plan.strategy)
        assert fixer is not None, "plans are filtered to installed fixers"
        risk = self.policy.stricter(plan.risk, fixer.risk)  # a plan is never safer than its fixer
        if risk is not plan.risk:
            plan = plan.model_copy(update={"risk": risk})
        verdict = self.policy.decide(risk, confidence=plan.confidence, approved=approve)
        fix_sig = plan.signature
        attempt_id = new_id("att")
        why = f"{plan.source} plan {plan.strategy!r}"
        if plan.memory_score is not None:
            why += f" (memory score {plan.memory_score:.2f})"
        why += f": {plan.description}. Policy: {verdict.reason}"
        outcome = FixOutcome(
            issue_id=issue.id,
            issue_signature=issue.signature,
            # What callers see of the plan is redacted; the real one stays with the fixer and memory.
            plan=plan.model_copy(update={"params": redact(plan.params), "description": redact_text(plan.description)}),
            fix_signature=fix_sig,
            decision=verdict.decision,
            decision_reason=verdict.reason,
            dry_run=dry_run,
        )
        entry = AuditEntry(
            run_id=ctx.run_id,
            attempt_id=attempt_id,
            phase="skipped",
            issue_id=issue.id,
            issue_signature=issue.signature,
            component=component.name,
            strategy=plan.strategy,
            fix_signature=fix_sig,
            risk=risk,
            decision=verdict.decision,
            why=redact_text(why),
            dry_run=dry_run,
            details=redact({"params": plan.params, "confidence": plan.confidence, "source": plan.source}),
        )
        if verdict.decision is not PolicyDecision.allow or dry_run:
            if verdict.decision is PolicyDecision.allow and not budget.take():
                return None
            await self.store.append_audit(entry)
            outcome.finished_at = utcnow()
            return outcome
        if not budget.take():
            return None

        issue.state = IssueState.fixing
        issue.auto_fix.attempted = True
        issue.auto_fix.attempts += 1
        issue.auto_fix.last_attempt_at = utcnow()
        await self.store.save_issue(issue)
        started = entry.model_copy(update={"phase": "started", "time": utcnow()})
        await self.store.append_audit(started)
        self._open_attempts[issue.id] = started

        name = f"fixer {component.name}.{fixer.name}"
        crashed = False
        try:
            result = await self._call(
                component, f"{name} apply", lambda: fixer.apply(issue, plan, ctx), "apply", _result
            )
        except ComponentError as exc:
            result, crashed = FixResult(applied=False, notes=[str(exc)]), True
        retest: RetestResult | None = None
        if result.applied:
            if component.retester is None:
                retest = RetestResult(passed=True, notes=["no retester for this component: the fix is unverified"])
            else:
                retester = component.retester
                try:
                    retest = await self._call(
                        component,
                        f"the {component.name} retest",
                        lambda: retester.retest(issue, plan, result, ctx),
                        "retest",
                        _retest,
                    )
                except ComponentError as exc:
                    retest = RetestResult(passed=False, notes=[str(exc)])
        successful = bool(result.applied and retest is not None and retest.passed)
        # Undo a fix that did not work, and an apply that failed part of the way (it may have acted).
        reverted = (
            await self._revert(component, fixer, issue, plan, result, ctx)
            if not successful and (result.applied or crashed)
            else None
        )
        outcome.result = result.model_copy(update={"notes": [redact_text(n) for n in result.notes]})
        outcome.retest = retest
        outcome.successful = successful
        outcome.finished_at = utcnow()
        suggestion = None
        if not successful:
            suggestion = redact_text("; ".join((retest.notes if retest else result.notes) or ["fix not applied"]))
        finished = entry.model_copy(
            update={
                "phase": "finished",
                "time": outcome.finished_at,
                "result": redact_text(
                    "; ".join(result.changes or result.notes) or ("applied" if result.applied else "not applied")
                ),
                "retest": redact_text("; ".join(retest.notes) or ("passed" if retest.passed else "failed"))
                if retest
                else None,
                "successful": successful,
                "details": {
                    **entry.details,
                    "suggestion": suggestion,
                    "blocked": result.blocked + (retest.blocked if retest else []),
                    **({"reverted": reverted[1]} if reverted is not None else {}),
                },
            }
        )
        await self.store.finish_attempt(finished, self._outcome_record(finished, plan))
        self._open_attempts.pop(issue.id, None)
        if reverted is not None:
            ok, note = reverted
            await self.store.append_audit(
                finished.model_copy(update={"phase": "reverted", "time": utcnow(), "result": note, "successful": ok})
            )
        # A patch that makes a fix permanent is only for a fix that passed its retest: after a failed one,
        # "commit this change" would be wrong advice (escalation writes the patches a human needs).
        if result.patch is not None and successful:
            await self._save_patch(result.patch)
        return outcome

    async def _revert(
        self,
        component: Component,
        fixer: object,
        issue: HealthIssue,
        plan: FixPlan,
        result: FixResult,
        ctx: ComponentContext,
    ) -> tuple[bool, str] | None:
        """Ask the fixer to undo an attempt; (whether it did, what happened) or None if it cannot revert."""
        if not isinstance(fixer, Reverter):
            return None
        what = f"fixer {component.name}.{getattr(fixer, 'name', '?')} revert"
        try:
            await self._call(component, what, lambda: fixer.revert(issue, plan, result, ctx), "apply", _anything)
        except ComponentError as exc:
            log.warning("revert failed", issue=issue.id, error=str(exc))
            return False, redact_text(str(exc))
        return True, "reverted: the fixer undid the attempt"

    async def _crashed(self, issue: HealthIssue, run_id: str, exc: Exception, *, dry_run: bool = False) -> HealReport:
        """Record that healing one issue failed unexpectedly (a bug, or a component answer that broke the
        loop further down): an audit entry (closing the attempt it interrupted, if any, so it is not taken
        for an interrupted run), a note on the issue, and the same backoff and breaker as a failed fix."""
        message = redact_text(f"healing {issue.id} failed unexpectedly: {type(exc).__name__}: {exc}")
        log.error("healing an issue failed", issue=issue.id, error=message, exc_info=exc)
        report = HealReport(issue=issue, errors=[message], skipped=message)
        open_entry = self._open_attempts.pop(issue.id, None)
        if dry_run:
            return report
        try:
            base = open_entry or AuditEntry(
                run_id=run_id,
                attempt_id=new_id("att"),
                phase="crashed",
                issue_id=issue.id,
                issue_signature=issue.signature,
                component=issue.component,
                strategy="",
                fix_signature="",
                risk=FixRisk.read_only,
                decision=PolicyDecision.deny,
                why=message,
            )
            await self.store.append_audit(
                base.model_copy(update={"seq": None, "phase": "crashed", "time": utcnow(), "why": message})
            )
            current = await self.store.get_issue(issue.id) or issue
            report.issue = current
            current.auto_fix.notes.append(message)
            current.auto_fix.consecutive_failures += 1
            if current.auto_fix.consecutive_failures >= self.guards.breaker_threshold:
                failures = current.auto_fix.consecutive_failures
                note = f"healing failed {failures} times in a row; no more automatic attempts."
                return await self._escalate(report, None, run_id, False, "persistent", note, None)
            delay = self._backoff(current.auto_fix.consecutive_failures)
            current.state = IssueState.open
            current.auto_fix.next_attempt_at = utcnow() + timedelta(seconds=delay)
            await self.store.save_issue(current)
        except StoreUnavailable:
            raise
        except Exception as again:  # recording failed too: the pass still goes on
            log.error(
                "recording a failed heal failed", issue=issue.id, error=redact_text(f"{type(again).__name__}: {again}")
            )
        return report

    def _backoff(self, consecutive_failures: int) -> float:
        """Seconds to wait before the next attempt after this many failures in a row (doubling, capped)."""
        return float(
            min(self.guards.backoff_max_seconds, self.guards.backoff_base_seconds * 2 ** (consecutive_failures - 1))
        )

    # ------------------------------------------------------------------------------ escalation

    async def _escalate(
        self,
        report: HealReport,
        component: Component | None,
        run_id: str,
        dry_run: bool,
        reason: PatchReason,
        note: str,
        held_back: list[tuple[FixOutcome, FixPlan]] | None,
    ) -> HealReport:
        issue = report.issue
        if dry_run:
            report.skipped = f"would escalate ({reason}): {note}"
            return report
        issue.state = IssueState.persistent if reason == "persistent" else IssueState.escalated
        issue.auto_fix.notes.append(note)
        plans: list[FixPlan | None] = [plan for _, plan in held_back] if held_back else [None]
        for plan in plans:
            patch = await self._suggest(issue, component, plan, run_id, reason, note)
            report.patches.append(patch)
        await self.store.save_issue(issue)
        return report

    async def _suggest(
        self,
        issue: HealthIssue,
        component: Component | None,
        plan: FixPlan | None,
        run_id: str,
        reason: PatchReason,
        note: str,
    ) -> PatchSuggestion:
        if component is None:
            return await self._save_patch(generic_suggestion(issue, reason, note, plan))
        fixers = [component.fixer(plan.strategy)] if plan is not None else list(component.fixers)
        writers: list[PatchWriter] = []
        for fixer in fixers:
            if isinstance(fixer, PatchWriter):
                writers.append(fixer)
        ctx = self.context(component, run_id, False)
        for writer in writers:
            what = f"fixer {component.name}.{getattr(writer, 'name', '?')} suggest_patch"
            try:
                patch = await self._call(
                    component, what, partial(writer.suggest_patch, issue, plan, ctx), "propose", _patch
                )
            except ComponentError as exc:
                log.warning("patch writer failed", issue=issue.id, error=str(exc))
                continue
            if patch is not None:
                patch = patch.model_copy(update={"reason": reason, "rationale": f"{note}\n\n{patch.rationale}"})
                return await self._save_patch(patch)
        return await self._save_patch(generic_suggestion(issue, reason, note, plan))

    async def _save_patch(self, patch: PatchSuggestion) -> PatchSuggestion:
        clean = sanitize(patch)
        await self.store.save_patch(clean)
        path = write_patch_file(self.settings.patches_dir, clean)
        if path is not None:
            log.info("patch written", path=str(path), issue=clean.issue_id)
        return clean
