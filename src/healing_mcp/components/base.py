"""What a component is: a sensor, root-cause rules, fixers and a retester behind small protocols.

The built-in component (``browser``, today the only one) and third-party plugins are made the same way
and registered the same way (the ``healing_mcp.components`` entry-point group, or a ``module:attribute``
path in the ``plugins`` setting). A minimal plugin::

    from healing_mcp.components import Component, FixPlan, FixResult, FixRisk, RetestResult

    class TouchFile:
        name = "touch_file"
        risk = FixRisk.reversible

        async def propose(self, issue, ctx):
            return [FixPlan(component="files", strategy=self.name, risk=self.risk,
                            params={"path": issue.target}, confidence=0.9)]

        async def apply(self, issue, plan, ctx):
            Path(plan.params["path"]).touch()
            return FixResult(applied=True, changes=[f"created {plan.params['path']}"])

        async def revert(self, issue, plan, result, ctx):  # optional
            Path(plan.params["path"]).unlink(missing_ok=True)

    component = Component(name="files", fixers=[TouchFile()], retester=FileExists())

Every call into a component is isolated by the loop: an exception, a call that outlives its timeout
(``propose``/``poll`` 30 s, ``apply``/``revert``/``retest`` 120 s by default; ``*_timeout_seconds`` in the
``[supervisor]`` or ``[components.<name>]`` table) or an answer of the wrong type (``propose`` returns a
list of FixPlan, ``apply`` a FixResult, ``retest`` a RetestResult, ``poll`` a list of Event, ``observe`` an
Observation or None) becomes a recorded failure, never a crash of the server or of the pass.

A fixer's risk is what its fixes can do at most: the policy decides on the stricter of the fixer's
``risk`` and the plan's (a plan cannot declare itself safer than its fixer).

``revert`` (optional, see :class:`Reverter`) undoes an attempt: the loop calls it when the retest failed,
and when ``apply`` raised or timed out (it may have acted part of the way, so revert must cope with
nothing to undo). Its outcome is written to the audit log (phase ``reverted``); its own failure is
recorded, never raised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from healing_mcp.models import (
    Event,
    FixPlan,
    FixResult,
    FixRisk,
    HealthIssue,
    Observation,
    PatchSuggestion,
    RetestResult,
    Severity,
)

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

    from healing_mcp.config import Settings
    from healing_mcp.store.base import Store


@dataclass
class ComponentContext:
    """What a component may use while it works. Handed to every fixer, retester and poll call."""

    settings: Settings
    config: dict[str, Any]
    store: Store
    log: FilteringBoundLogger
    run_id: str = ""
    dry_run: bool = False
    safe_mode: bool = True
    """Always true for fix attempts and retests: never submit, publish or write outside the fix itself."""

    @property
    def project_root(self) -> Path:
        return self.settings.project_root

    @property
    def patches_dir(self) -> Path:
        return self.settings.patches_dir


class NoSafeFix(Exception):
    """Raised by ``Fixer.propose`` to refuse with a reason (e.g. "two look-alike buttons, cannot tell
    which one"). The loop turns the reason into a manual patch suggestion instead of guessing."""


@dataclass
class Diagnosis:
    """Root-cause findings for one issue. Causes and fixes are plain sentences for humans."""

    causes: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)
    confidence: float = 0.5


@runtime_checkable
class Sensor(Protocol):
    """Turns events into observations. Returns None for events that are not failures."""

    def observe(self, event: Event) -> Observation | None: ...


@runtime_checkable
class PollingSensor(Protocol):
    """A sensor that also looks actively (a Postgres table, a job queue) on every supervisor pass."""

    async def poll(self, ctx: ComponentContext) -> list[Event]: ...


class RootCauseRule(Protocol):
    """Looks at an issue and explains it, or returns None when the rule does not apply."""

    def __call__(self, issue: HealthIssue) -> Diagnosis | None: ...


@runtime_checkable
class Fixer(Protocol):
    """Proposes and applies one kind of repair. ``risk`` is checked by the safety policy before apply.
    A fixer may also be a :class:`PatchWriter` and a :class:`Reverter` (``revert(issue, plan, result, ctx)``).
    """

    name: str
    risk: FixRisk

    async def propose(self, issue: HealthIssue, ctx: ComponentContext) -> list[FixPlan]: ...

    async def apply(self, issue: HealthIssue, plan: FixPlan, ctx: ComponentContext) -> FixResult: ...


@runtime_checkable
class PatchWriter(Protocol):
    """Optional on a fixer: turn a plan the loop may not apply into a patch for a human."""

    async def suggest_patch(
        self, issue: HealthIssue, plan: FixPlan | None, ctx: ComponentContext
    ) -> PatchSuggestion | None: ...


@runtime_checkable
class Reverter(Protocol):
    """Optional on a fixer: undo what ``apply`` did, after a failed retest or an ``apply`` that raised."""

    async def revert(self, issue: HealthIssue, plan: FixPlan, result: FixResult, ctx: ComponentContext) -> None: ...


@runtime_checkable
class Retester(Protocol):
    """Replays the failing step after a fix and says whether the failure is gone."""

    async def retest(
        self, issue: HealthIssue, plan: FixPlan, result: FixResult, ctx: ComponentContext
    ) -> RetestResult: ...


class DefaultSensor:
    """Every event of the component is a failure; kind and target come straight from the event."""

    def __init__(self, component: str, severity: Severity = Severity.error) -> None:
        self.component = component
        self.severity = severity

    def observe(self, event: Event) -> Observation | None:
        # Built without re-validation: every field comes from an already valid event (hot path of intake).
        return Observation.model_construct(
            component=self.component,
            kind=event.kind,
            target=event.target,
            severity=event.severity or self.severity,
            summary=None,
            key=None,
        )


class Component:
    """A pluggable part of the user's system that healing-mcp watches and repairs."""

    def __init__(
        self,
        name: str,
        *,
        description: str = "",
        sensor: Sensor | None = None,
        rules: Sequence[RootCauseRule] = (),
        fixers: Sequence[Fixer] = (),
        retester: Retester | None = None,
        default_severity: Severity = Severity.error,
    ) -> None:
        self.name = name
        self.description = description
        self.sensor: Sensor = sensor or DefaultSensor(name, default_severity)
        self.rules = list(rules)
        self.fixers = list(fixers)
        self.retester = retester

    def configure(self, settings: Settings, config: dict[str, Any]) -> None:
        """Called once after loading with the global settings and this component's own table."""

    async def aclose(self) -> None:
        """Release resources (browsers, connections) when the server or CLI stops."""

    def fixer(self, strategy: str) -> Fixer | None:
        return next((f for f in self.fixers if f.name == strategy), None)

    def __repr__(self) -> str:
        return f"Component({self.name!r}, fixers={[f.name for f in self.fixers]})"
