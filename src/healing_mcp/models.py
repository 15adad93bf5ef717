"""The data model: every record healing-mcp reads, stores, reports or returns over MCP.

These pydantic models are the single source of truth. The MCP tools publish their input and output
schemas from them, the stores persist them as JSON, and the CLI prints them. Nothing else defines the
shape of an event, an issue or a report.

Vocabulary
----------
- An :class:`Event` is one observation from the outside world ("selector #buy not found").
- Events with the same *signature* (see :mod:`healing_mcp.core.signatures`) are one :class:`HealthIssue`.
- A :class:`FixPlan` is a concrete repair a component proposes for an issue; its ``fix_signature`` is how
  healing memory recognises the same repair next time.
- Every attempt to apply a plan produces a :class:`FixOutcome` (and audit entries); the outcome's retest
  decides whether the fix worked, and healing memory counts it per (issue signature, fix signature).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator


def utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC, so comparisons never mix naive and aware values."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class _Model(BaseModel):
    # defer_build: validators are built on first use, not at import. The MCP server answers tools/list
    # from its schema cache (healing_mcp/server/tool_schemas.py), so start-up builds none of them.
    model_config = ConfigDict(extra="forbid", use_enum_values=False, populate_by_name=True, defer_build=True)


# --------------------------------------------------------------------------------------------- enums


class HealthState(StrEnum):
    """How a component (or the whole system) is doing. Ordered: healthy < degraded < broken."""

    healthy = "healthy"
    degraded = "degraded"
    broken = "broken"

    @property
    def rank(self) -> int:
        return _STATE_RANK[self]


_STATE_RANK = {HealthState.healthy: 0, HealthState.degraded: 1, HealthState.broken: 2}


class Severity(StrEnum):
    info = "info"
    warning = "warning"
    error = "error"
    critical = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.info: 0, Severity.warning: 1, Severity.error: 2, Severity.critical: 3}


class IssueState(StrEnum):
    """Lifecycle of an issue.

    open -> fixing -> resolved            a fix passed its retest
    open -> fixing -> open                a fix failed; retried after a backoff
    open -> persistent                    the circuit breaker opened: too many failed fixes
    open -> escalated                     no safe fix: denied by policy, needs approval, flapping, or none known
    resolved -> open                      the failure came back (counted; repeated returns escalate)
    """

    open = "open"
    fixing = "fixing"
    resolved = "resolved"
    persistent = "persistent"
    escalated = "escalated"

    @property
    def unresolved(self) -> bool:
        return self is not IssueState.resolved


class FixRisk(StrEnum):
    """What a fix can do to the user's world, from harmless to irreversible. Declared by each fixer."""

    read_only = "read_only"
    reversible = "reversible"
    data_changing = "data_changing"
    schema_changing = "schema_changing"
    external_side_effect = "external_side_effect"


class PolicyDecision(StrEnum):
    allow = "allow"
    needs_approval = "needs_approval"
    deny = "deny"


class Environment(StrEnum):
    dev = "dev"
    staging = "staging"
    prod = "prod"


# --------------------------------------------------------------------------------------------- intake


class ReplayStep(_Model):
    """What to do again to check whether a failure is gone.

    ``action`` is interpreted by the component's retester (a browser retester understands ``click`` or
    ``fill``; an MCP-tools retester understands ``call_tool``). ``expect`` is an optional post-condition.
    """

    action: str = Field(min_length=1, description="Verb the component's retester replays, e.g. 'click'.")
    target: str | None = Field(default=None, description="What the action applies to, e.g. a selector.")
    url: str | None = Field(default=None, description="Where the step runs, when it has a location.")
    args: dict[str, Any] = Field(default_factory=dict, description="Extra arguments of the action.")
    expect: dict[str, Any] | None = Field(default=None, description="Post-condition to check afterwards.")


class Event(_Model):
    """One observation, from a JSONL line, the Python API, a sensor poll or an ad-hoc failure report."""

    time: datetime = Field(
        default_factory=utcnow,
        validation_alias=AliasChoices("time", "timestamp", "ts"),
        description="When it happened (UTC if no zone given). Also accepted as 'timestamp' or 'ts'.",
    )
    component: str = Field(min_length=1, max_length=64, description="Component name, e.g. 'browser'.")
    kind: str = Field(
        min_length=1,
        max_length=128,
        validation_alias=AliasChoices("kind", "symptom"),
        description="Symptom kind, e.g. 'selector_not_found', 'timeout'. Also accepted as 'symptom'.",
    )
    message: str = Field(
        default="",
        max_length=20_000,
        validation_alias=AliasChoices("message", "msg", "error"),
        description="Human-readable failure text. Also accepted as 'msg' or 'error'.",
    )
    target: str | None = Field(
        default=None, max_length=2_000, description="What failed: a selector, tool name, table.column..."
    )
    severity: Severity | None = Field(default=None, description="Overrides the component's default severity.")
    attributes: dict[str, Any] = Field(default_factory=dict, description="Free-form context.")
    step: ReplayStep | None = Field(default=None, description="Replayable step for the retest.")

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    @field_validator("time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return _aware(value)


class Observation(_Model):
    """What a sensor makes of an event: the parts that define the issue it belongs to."""

    component: str
    kind: str
    target: str | None = None
    severity: Severity = Severity.error
    summary: str | None = Field(default=None, description="Short title; defaults to kind + target.")
    key: str | None = Field(
        default=None,
        description="Structured identity used for the signature instead of the masked message, for sensors "
        "that know better than the text (e.g. the page a selector failed on).",
    )


class QuarantinedLine(_Model):
    source: str
    offset: int
    reason: str
    line: str = Field(description="The offending line, redacted and truncated.")
    time: datetime = Field(default_factory=utcnow)


class Watermark(_Model):
    """How far one event source has been consumed, so each event counts once across restarts."""

    source: str = Field(description="Stable source key, e.g. 'file:/abs/path.jsonl'.")
    offset: int = Field(ge=0, description="Byte offset just after the last consumed line.")
    fingerprint: str = Field(default="", description="Identifies the file's generation (rotation check).")
    updated_at: datetime = Field(default_factory=utcnow)


# --------------------------------------------------------------------------------------------- issues


class AutoFixInfo(_Model):
    attempted: bool = False
    successful: bool = False
    strategy: str | None = None
    fix_signature: str | None = None
    attempts: int = 0
    consecutive_failures: int = 0
    last_attempt_at: datetime | None = None
    next_attempt_at: datetime | None = Field(default=None, description="Backoff: not retried before this.")
    notes: list[str] = Field(default_factory=list)


class Evidence(_Model):
    """A redacted sample event kept with an issue so a human can see what actually happened."""

    time: datetime
    message: str
    attributes: dict[str, Any] = Field(default_factory=dict)
    step: ReplayStep | None = None


class HealthIssue(_Model):
    id: str = Field(description="Stable id, derived from the signature.")
    component: str
    kind: str
    target: str | None = None
    signature: str = Field(description="Versioned grouping key, e.g. 'sig1:3f2a...'.")
    title: str
    severity: Severity = Severity.error
    state: IssueState = IssueState.open
    symptoms: list[str] = Field(default_factory=list)
    probable_causes: list[str] = Field(default_factory=list)
    recommended_fixes: list[str] = Field(default_factory=list)
    auto_fix: AutoFixInfo = Field(default_factory=AutoFixInfo)
    occurrences: int = 0
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None = None
    reopen_count: int = 0
    reopened_at: list[datetime] = Field(default_factory=list, description="Recent returns after resolution.")
    evidence: list[Evidence] = Field(default_factory=list)
    updated_at: datetime = Field(default_factory=utcnow)

    @property
    def step(self) -> ReplayStep | None:
        """The newest replayable step among the evidence."""
        for sample in reversed(self.evidence):
            if sample.step is not None:
                return sample.step
        return None


class ComponentHealth(_Model):
    name: str
    state: HealthState
    reason: str = Field(description="Plain-words explanation of the state.")
    open_issues: int = 0
    loaded: bool = Field(default=True, description="False when the component's plugin failed to load.")


class IntakeStats(_Model):
    events_seen: int = 0
    quarantined: int = 0
    recent_quarantine: list[QuarantinedLine] = Field(default_factory=list)


class ReportCounts(_Model):
    total: int = 0
    by_state: dict[str, int] = Field(default_factory=dict)
    by_severity: dict[str, int] = Field(default_factory=dict)
    by_component: dict[str, int] = Field(default_factory=dict)


class SystemHealthReport(_Model):
    timestamp: datetime = Field(default_factory=utcnow)
    overall: HealthState
    summary: str = Field(description="One sentence for humans.")
    environment: Environment
    components: list[ComponentHealth]
    issues: list[HealthIssue] = Field(description="Matching issues, most urgent first (paged).")
    counts: ReportCounts
    issues_returned: int
    issues_matching: int
    next_offset: int | None = Field(default=None, description="Pass as 'offset' to get the next page.")
    intake: IntakeStats = Field(default_factory=IntakeStats)
    store: str = Field(description="Which store answered, e.g. 'sqlite:.healing/healing.db'.")
    store_degraded: str | None = Field(
        default=None,
        description="Why the database is unreachable, when it is: writes are spooled locally and replayed later.",
    )


# --------------------------------------------------------------------------------------------- fixes


def fix_signature(component: str, strategy: str, params: dict[str, Any]) -> str:
    """Identity of a repair: same component, strategy and parameters -> same fix signature."""
    canonical = json.dumps([component, strategy, params], sort_keys=True, separators=(",", ":"), default=str)
    return "fix1:" + hashlib.blake2b(canonical.encode(), digest_size=10).hexdigest()


class FixPlan(_Model):
    """A concrete repair a fixer proposes (or memory replays) for one issue."""

    component: str
    strategy: str = Field(description="Fixer name, e.g. 'regenerate_selector'.")
    params: dict[str, Any] = Field(default_factory=dict, description="Everything needed to apply it again.")
    description: str = ""
    risk: FixRisk
    confidence: float = Field(default=0.5, ge=0.0, le=1.0, description="The fixer's own confidence.")
    source: Literal["memory", "fixer", "llm"] = "fixer"
    memory_score: float | None = Field(default=None, description="Wilson lower bound from healing memory.")

    @property
    def signature(self) -> str:
        return fix_signature(self.component, self.strategy, self.params)


class FixResult(_Model):
    """What applying a plan did, before any retest."""

    applied: bool
    notes: list[str] = Field(default_factory=list)
    changes: list[str] = Field(default_factory=list, description="What was changed, in plain words.")
    blocked: list[str] = Field(default_factory=list, description="Actions safe mode refused.")
    patch: PatchSuggestion | None = Field(default=None, description="A patch the fix wrote or proposes.")


class RetestResult(_Model):
    passed: bool
    notes: list[str] = Field(default_factory=list)
    blocked: list[str] = Field(default_factory=list)
    duration_ms: float | None = None


class FixOutcome(_Model):
    """One attempt, allowed or not: the unit of the audit log and of healing memory."""

    issue_id: str
    issue_signature: str
    plan: FixPlan
    fix_signature: str
    decision: PolicyDecision
    decision_reason: str
    dry_run: bool = False
    result: FixResult | None = None
    retest: RetestResult | None = None
    successful: bool = False
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


PatchReason = Literal[
    "denied_by_policy", "needs_approval", "persistent", "refused", "flapping", "no_fix", "make_permanent"
]


class PatchSuggestion(_Model):
    id: str
    issue_id: str
    component: str
    title: str
    target_file: str | None = Field(default=None, description="File the diff applies to, if any.")
    diff: str | None = Field(default=None, description="Unified diff; apply with 'git apply'.")
    rationale: str
    risk: FixRisk
    reason: PatchReason = Field(default="no_fix", description="Why a human is needed.")
    created_at: datetime = Field(default_factory=utcnow)


class MemoryRecord(_Model):
    """Healing memory for one (issue signature, fix signature) pair."""

    issue_signature: str
    fix_signature: str
    component: str
    strategy: str
    params: dict[str, Any] = Field(default_factory=dict)
    risk: FixRisk = FixRisk.reversible
    successes: int = 0
    failures: int = 0
    last_outcome: Literal["success", "failure"] | None = None
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None
    suggestions: list[str] = Field(default_factory=list, description="Improvement notes from past attempts.")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    score: float = Field(default=0.0, description="Wilson lower bound of the success rate (95%).")


class AuditEntry(_Model):
    """One line of the append-only audit log."""

    seq: int | None = Field(default=None, description="Assigned by the store.")
    time: datetime = Field(default_factory=utcnow)
    run_id: str
    attempt_id: str
    phase: Literal["started", "finished", "skipped", "interrupted", "reverted", "crashed", "resolved"] = Field(
        description="started/finished bracket an attempt; skipped: not applied (policy, dry run); interrupted: "
        "its run stopped mid-attempt; reverted: the fixer undid a failed fix; crashed: healing the issue failed "
        "unexpectedly; resolved: a human closed the issue."
    )
    issue_id: str
    issue_signature: str
    component: str
    strategy: str
    fix_signature: str
    risk: FixRisk
    decision: PolicyDecision
    why: str = Field(description="Why this fix was chosen and what the policy said.")
    dry_run: bool = False
    result: str | None = None
    retest: str | None = None
    successful: bool | None = None
    details: dict[str, Any] = Field(default_factory=dict)


# --------------------------------------------------------------------------------------------- tool I/O


ComponentName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]


class FailureReport(_Model):
    """An ad-hoc failure another tool reports right after it failed, to be healed on the spot."""

    component: ComponentName = Field(description="Component that failed, e.g. 'browser' or 'supabase'.")
    symptom: str = Field(min_length=1, max_length=128, description="Symptom kind, e.g. 'selector_not_found'.")
    message: str = Field(default="", max_length=20_000, description="The error text as the tool saw it.")
    target: str | None = Field(default=None, max_length=2_000, description="Selector, tool, table...")
    context: dict[str, Any] = Field(default_factory=dict, description="Anything else that helps.")
    step: ReplayStep | None = Field(default=None, description="The failing step, so it can be retested.")

    def to_event(self) -> Event:
        return Event(
            component=self.component,
            kind=self.symptom,
            message=self.message,
            target=self.target,
            attributes=self.context,
            step=self.step,
        )


class SupervisorRunResult(_Model):
    run_id: str
    dry_run: bool
    started_at: datetime
    finished_at: datetime
    events_ingested: int
    quarantined: int
    issues_seen: int
    outcomes: list[FixOutcome] = Field(description="Every attempt this pass made or skipped.")
    resolved: list[str] = Field(default_factory=list, description="Issue ids resolved in this pass.")
    escalated: list[str] = Field(default_factory=list, description="Issue ids that now need a human.")
    skipped: dict[str, str] = Field(default_factory=dict, description="Issue id -> why it was not fixed.")
    errors: list[str] = Field(default_factory=list, description="Component failures, isolated.")
    overall: HealthState
    summary: str
    store_degraded: str | None = Field(
        default=None,
        description="Set when the database became unreachable: the pass stopped early and its "
        "writes are spooled locally, to be replayed exactly once when the database is back.",
    )


class AutoFixResult(_Model):
    issue: HealthIssue
    outcomes: list[FixOutcome]
    healed: bool
    summary: str
    patches: list[PatchSuggestion] = Field(default_factory=list)


class PatchList(_Model):
    patches: list[PatchSuggestion]
    summary: str


class MemoryInsights(_Model):
    records: int
    signatures: int
    successes: int
    failures: int
    top_fixes: list[MemoryRecord] = Field(description="Best-scoring fixes across signatures.")
    failing_fixes: list[MemoryRecord] = Field(description="Fixes that keep failing: candidates to retire.")
