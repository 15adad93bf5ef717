"""The browser component: sensor, root-cause rules, the selector-healing fixer and the retester.

Flow for a broken selector (``selector_not_found`` from :func:`~.wrapper.instrument`):

1. The **sensor** groups failures by (selector, page), so the same broken selector on the same page is
   one issue however its error text varies.
2. **Rules** explain it: the element the agent used before (its stored fingerprint) is gone, so the DOM
   changed; or there was never a reference run and only the selector itself can guide the heal.
3. The **regenerate_selector** fixer opens the page in safe mode, captures every candidate element,
   lets :func:`~.matching.match_element` pick the one the stored fingerprint (or the selector itself)
   describes, and builds a resilient selector that matches exactly that element. A refusal of the matcher
   (ambiguous, hidden, disabled, weak) is raised as :class:`NoSafeFix` and becomes a patch suggestion.
4. Applying the fix makes the replacement take effect for agents that use inline healing (healing
   memory is what they consult) and proposes a source patch replacing the literal in the user's flow.
   With ``apply_source_patches = true`` in ``[components.browser]`` the patch is written to the source
   tree instead, which makes the fix ``data_changing`` for the safety policy.
5. The **retester** replays the failing step with the new selector in safe mode (no form submission, no
   non-GET request, no click on anything that would submit or publish).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from healing_mcp.components.base import Component, ComponentContext, Diagnosis, NoSafeFix
from healing_mcp.components.browser.fingerprint import ElementFingerprint
from healing_mcp.components.browser.fingerprint_store import page_key
from healing_mcp.core.patches import apply_replacements, find_literal_replacements, patch_id, unified_diff
from healing_mcp.models import (
    Event,
    FixPlan,
    FixResult,
    FixRisk,
    HealthIssue,
    Observation,
    PatchSuggestion,
    ReplayStep,
    RetestResult,
    Severity,
)

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Playwright

    from healing_mcp.config import Settings

NAME = "browser"
STRATEGY = "regenerate_selector"
SELECTOR_KINDS = frozenset(
    {"selector_not_found", "timeout", "action_failed", "fingerprint_drift", "persistent_retries"}
)
_SEVERITY = {
    "fingerprint_drift": Severity.warning,
    "navigation_loop": Severity.error,
    "persistent_retries": Severity.error,
}
# A failed inline heal is followed by the failure event itself, which carries the issue.
_NOT_ISSUES = frozenset({"selector_heal_failed"})
MEMORY_METHOD = "healing memory"


def selector_plan(old: str, new: str, page: str, confidence: float, description: str, risk: FixRisk) -> FixPlan:
    """The one shape of a selector fix, shared by the supervisor and inline healing so both produce the
    same fix signature (same old selector, new selector and page -> same memory record)."""
    return FixPlan(
        component=NAME,
        strategy=STRATEGY,
        params={"old_selector": old, "new_selector": new, "page": page},
        description=description,
        risk=risk,
        confidence=confidence,
    )


def issue_key(url: str) -> str:
    """What identifies "the same broken selector": the page it failed on."""
    return page_key(url)


# ---------------------------------------------------------------------------------- sensor


class BrowserSensor:
    def observe(self, event: Event) -> Observation | None:
        if event.kind in _NOT_ISSUES:
            return None
        url = str(event.attributes.get("url") or (event.step.url if event.step else "") or "")
        page = issue_key(url) if url else ""
        severity = event.severity or _SEVERITY.get(event.kind, Severity.error)
        if event.kind == "selector_healed":
            if event.attributes.get("method") == MEMORY_METHOD:
                return None  # a proven fix did its job; the heal is already in the audit log and memory
            # A first heal found by similarity: the same issue as the failure it replaced, to be verified
            # by the supervisor and made permanent with a patch.
            return Observation(
                component=NAME,
                kind="selector_not_found",
                target=event.target,
                severity=Severity.warning,
                summary=f"selector not found: {event.target} on {page}",
                key=page,
            )
        if event.kind in SELECTOR_KINDS:
            where = f" on {page}" if page else ""
            summary = f"{event.kind.replace('_', ' ')}: {event.target}{where}"
            return Observation(
                component=NAME, kind=event.kind, target=event.target, severity=severity, summary=summary, key=page
            )
        if event.kind == "http_error":
            status = event.attributes.get("status")
            return Observation(
                component=NAME,
                kind=event.kind,
                target=event.target,
                severity=severity,
                summary=f"HTTP {status} from {event.target}",
                key=f"{status} {page}",
            )
        return Observation(component=NAME, kind=event.kind, target=event.target, severity=severity)


# ---------------------------------------------------------------------------------- rules


def _attr(issue: HealthIssue, name: str) -> Any:
    for sample in reversed(issue.evidence):
        if name in sample.attributes:
            return sample.attributes[name]
    return None


def stored_fingerprint(issue: HealthIssue) -> ElementFingerprint | None:
    data = _attr(issue, "stored_fingerprint")
    return ElementFingerprint.model_validate(data) if isinstance(data, dict) else None


def dom_changed_rule(issue: HealthIssue) -> Diagnosis | None:
    if issue.kind != "selector_not_found":
        return None
    stored = stored_fingerprint(issue)
    if stored is not None:
        return Diagnosis(
            causes=[
                f"DOM updated: {issue.target!r} used to match {stored.summary()} and now matches nothing; "
                "the page was changed (renamed ids/classes, moved or reworded elements)."
            ],
            fixes=["Re-find the element by its fingerprint and switch to a resilient selector (test id, role + name)."],
            confidence=0.85,
        )
    return Diagnosis(
        causes=[
            f"{issue.target!r} matches nothing on the page and no successful run was recorded for it: "
            "either the page changed or the selector was never right."
        ],
        fixes=["Re-find the element from what the selector itself says (text, role, test id, attribute values)."],
        confidence=0.5,
    )


def element_state_rule(issue: HealthIssue) -> Diagnosis | None:
    if issue.kind != "timeout" or not _attr(issue, "matched"):
        return None
    return Diagnosis(
        causes=[f"{issue.target!r} exists but never became usable: hidden, disabled, covered or still loading."],
        fixes=["Wait for the state the step needs (visible/enabled) or fix the page state that blocks it."],
        confidence=0.7,
    )


def drift_rule(issue: HealthIssue) -> Diagnosis | None:
    if issue.kind != "fingerprint_drift":
        return None
    changed = _attr(issue, "changed_fields") or []
    return Diagnosis(
        causes=[
            f"The element behind {issue.target!r} changed ({', '.join(map(str, changed)) or 'several fields'}); "
            "the selector still works but is about to break."
        ],
        fixes=["Switch to a selector that does not depend on the changed fields."],
        confidence=0.6,
    )


def http_rule(issue: HealthIssue) -> Diagnosis | None:
    if issue.kind != "http_error":
        return None
    status = _attr(issue, "status")
    if isinstance(status, int) and status >= 500:
        cause = f"The backend answered {status} for {issue.target}: a server-side failure, not the agent's."
        fix = "Check the service behind this endpoint (logs, deploys, dependencies)."
    elif status in (401, 403):
        cause = f"{issue.target} refused the agent ({status}): its session or credentials are missing or expired."
        fix = "Refresh the agent's login/session before this step."
    else:
        cause = f"{issue.target} answered {status}: the resource moved or the request is malformed."
        fix = "Update the URL or request the page makes, or the route on the server."
    return Diagnosis(causes=[cause], fixes=[fix], confidence=0.6)


def navigation_loop_rule(issue: HealthIssue) -> Diagnosis | None:
    if issue.kind != "navigation_loop":
        return None
    return Diagnosis(
        causes=[
            f"The agent is cycling between pages ({issue.target}): usually a login redirect loop or a "
            "step that reloads the page it came from."
        ],
        fixes=["Check authentication state and redirects; add an exit condition to the flow."],
        confidence=0.6,
    )


def retries_rule(issue: HealthIssue) -> Diagnosis | None:
    if issue.kind != "persistent_retries":
        return None
    return Diagnosis(
        causes=[f"The agent keeps retrying {issue.target!r}; retries will not help if the page changed."],
        fixes=["Heal the underlying selector failure instead of retrying."],
        confidence=0.5,
    )


# ---------------------------------------------------------------------------------- the fixer


class RegenerateSelector:
    """Re-find the element on the live page and replace the broken selector with a resilient one."""

    name = STRATEGY
    risk = FixRisk.reversible

    def __init__(self, owner: BrowserComponent) -> None:
        self.owner = owner

    async def propose(self, issue: HealthIssue, ctx: ComponentContext) -> list[FixPlan]:
        if issue.kind != "selector_not_found" or not issue.target:
            return []
        step = issue.step
        if step is None or not step.url:
            raise NoSafeFix("no page URL was recorded with the failure, so the element cannot be looked for")
        stored = stored_fingerprint(issue)
        from healing_mcp.components.browser.capture import candidate_handle, capture_candidates
        from healing_mcp.components.browser.matching import match_element
        from healing_mcp.components.browser.safe_mode import SafeMode
        from healing_mcp.components.browser.selectors import build_selector

        context = await self.owner.new_context()
        try:
            async with SafeMode(context):
                page = await context.new_page()
                await page.goto(step.url, wait_until="load", timeout=self.owner.navigation_timeout_ms)
                candidates = await capture_candidates(page)
                result = match_element(stored, [c.fingerprint for c in candidates], failed_selector=issue.target)
                if not result.healed or result.index is None:
                    raise NoSafeFix(f"no element is clearly the one {issue.target!r} meant: {result.reason}")
                chosen = candidates[result.index]
                choice = await build_selector(page, await candidate_handle(page, chosen), chosen.fingerprint)
                if not choice.unique:
                    raise NoSafeFix(f"found {chosen.fingerprint.summary()} but no selector matches it uniquely")
        finally:
            await context.close()
        risk = FixRisk.data_changing if self.owner.apply_source_patches else FixRisk.reversible
        description = (
            f"replace {issue.target!r} with {choice.selector!r} ({chosen.fingerprint.summary()}; "
            f"{choice.strategy}; match confidence {result.confidence:.2f})"
        )
        return [selector_plan(issue.target, choice.selector, issue_key(step.url), result.confidence, description, risk)]

    async def apply(self, issue: HealthIssue, plan: FixPlan, ctx: ComponentContext) -> FixResult:
        old, new = plan.params["old_selector"], plan.params["new_selector"]
        changes = [f"agents with inline healing now use {new!r} for {old!r} on {plan.params['page']}"]
        patch = await self.suggest_patch(issue, plan, ctx)
        if patch is not None and plan.risk is FixRisk.data_changing:
            applied = apply_replacements(find_literal_replacements(ctx.project_root, old, new))
            changes.extend(f"patched {line}" for line in applied)
            patch = None
        return FixResult(applied=True, changes=changes, patch=patch)

    async def suggest_patch(
        self, issue: HealthIssue, plan: FixPlan | None, ctx: ComponentContext
    ) -> PatchSuggestion | None:
        if plan is None:
            return None
        old, new = plan.params["old_selector"], plan.params["new_selector"]
        replacements = find_literal_replacements(ctx.project_root, old, new)
        if not replacements:
            return None
        files = ", ".join(
            r.path.relative_to(ctx.project_root.resolve()).as_posix()
            if r.path.is_relative_to(ctx.project_root.resolve())
            else str(r.path)
            for r in replacements
        )
        return PatchSuggestion(
            id=patch_id(issue.id, plan.signature),
            issue_id=issue.id,
            component=NAME,
            title=f"Replace broken selector {old!r} with {new!r}",
            target_file=str(replacements[0].path),
            diff=unified_diff(ctx.project_root, replacements),
            rationale=(
                f"{old!r} no longer matches anything on {plan.params['page']}. {plan.description}. "
                f"Commit this change ({files}) so the flow no longer depends on inline healing."
            ),
            risk=plan.risk,
            reason="make_permanent",
        )


# ---------------------------------------------------------------------------------- the retester


class ReplayRetester:
    def __init__(self, owner: BrowserComponent) -> None:
        self.owner = owner

    async def retest(self, issue: HealthIssue, plan: FixPlan, result: FixResult, ctx: ComponentContext) -> RetestResult:
        from healing_mcp.components.browser.replay import replay_step
        from healing_mcp.components.browser.safe_mode import SafeMode

        selector = plan.params.get("new_selector")
        step = issue.step
        if step is None:
            page = plan.params.get("page")
            if not page:
                return RetestResult(passed=False, notes=["no replayable step was recorded; cannot verify the fix"])
            step = ReplayStep(action="wait_for", target=selector, url=page)
        context = await self.owner.new_context()
        try:
            async with SafeMode(context) as guard:
                page = await context.new_page()
                outcome = await replay_step(page, step, selector=selector, guard=guard)
        finally:
            await context.close()
        return outcome.to_retest_result()


# ---------------------------------------------------------------------------------- the component


class BrowserComponent(Component):
    """Heals Playwright browser agents. One headless Chromium is started on first need and shared."""

    def __init__(self) -> None:
        super().__init__(
            NAME,
            description="Playwright browser agents: broken selectors, timeouts, HTTP errors, navigation loops",
            sensor=BrowserSensor(),
            rules=[dom_changed_rule, element_state_rule, drift_rule, http_rule, navigation_loop_rule, retries_rule],
            fixers=[RegenerateSelector(self)],
            retester=ReplayRetester(self),
        )
        self.executable: str | None = None
        self.headless = True
        self.apply_source_patches = False
        self.navigation_timeout_ms = 15_000.0
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._owns_browser = True

    def configure(self, settings: Settings, config: dict[str, Any]) -> None:
        self.executable = config.get("executable_path")
        self.headless = bool(config.get("headless", True))
        self.apply_source_patches = bool(config.get("apply_source_patches", False))
        self.navigation_timeout_ms = float(config.get("navigation_timeout_ms", 15_000))

    async def browser(self) -> Browser:
        if self._browser is None or not self._browser.is_connected():
            from playwright.async_api import async_playwright

            from healing_mcp.components.browser.launcher import find_chromium, launch_browser

            if self._playwright is None:
                self._playwright = await async_playwright().start()
            choice = find_chromium(self.executable, playwright_executable=self._playwright.chromium.executable_path)
            self._browser = await launch_browser(self._playwright, headless=self.headless, choice=choice)
        return self._browser

    def use_browser(self, browser: Browser) -> None:
        """Share a browser the caller already runs (and will close) instead of launching another."""
        self._browser, self._owns_browser = browser, False

    async def new_context(self) -> BrowserContext:
        """A fresh, isolated context for one fix attempt or retest (no cookies shared with the agent;
        service workers blocked so every request goes through safe mode's interception)."""
        return await (await self.browser()).new_context(service_workers="block")

    async def aclose(self) -> None:
        browser, self._browser = self._browser, None
        playwright, self._playwright = self._playwright, None
        if browser is not None and self._owns_browser:
            await browser.close()
        if playwright is not None:
            await playwright.stop()


def component() -> BrowserComponent:
    return BrowserComponent()
