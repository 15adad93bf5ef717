"""The browser component: sensor, root-cause rules, the selector-healing fixer and the retester.

Flow for a broken selector (``selector_not_found`` from :func:`~.wrapper.instrument`):

1. The **sensor** groups failures by (selector, page), so the same broken selector on the same page is
   one issue however its error text varies.
2. **Rules** explain it: the element the agent used before (its stored fingerprint) is gone, so the DOM
   changed; or there was never a reference run and only the selector itself can guide the heal.
3. The **regenerate_selector** fixer opens the page in safe mode (signed in when ``storage_state`` is
   configured or recorded), waits for it to settle, captures every candidate element, lets
   :func:`~.matching.match_element` pick the one the stored fingerprint (or the selector itself)
   describes, and builds a resilient selector that matches exactly that element. A refusal of the matcher
   (ambiguous, hidden, disabled, weak) is raised as :class:`NoSafeFix` and becomes a patch suggestion
   that names the file and line of the broken selector and the best candidates with their scores.
4. Applying the fix makes the replacement take effect for agents that use inline healing (healing
   memory is what they consult) and proposes a source patch replacing the broken selector in the user's
   flow, at the call sites the wrapper recorded (:mod:`.patching`). With ``apply_source_patches = true``
   in ``[components.browser]`` the patch is written to the source tree instead, which makes the fix
   ``data_changing`` for the safety policy; when the retest then fails, :meth:`RegenerateSelector.revert`
   puts back exactly the bytes it replaced.
5. The **retester** replays the failing step with the new selector in safe mode (no form submission, no
   non-GET request, no click on anything that would submit or publish) and checks its post-condition.

Fix attempts and retests only navigate to origins the agent itself worked on (recorded by the wrapper),
loopback, and what ``allowed_origins`` adds: a failure reported through ``healing_auto_fix`` cannot make
the browser open an arbitrary address.

``[components.browser]`` settings: ``executable_path``, ``headless``, ``apply_source_patches``,
``navigation_timeout_ms``, ``settle_ms`` (how long to wait for a page to finish rendering after load),
``storage_state`` (a Playwright storage state file, relative to the project root), ``allowed_origins``
and ``risky_words`` (replaces the words that make safe mode withhold a click).
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from healing_mcp.components.base import Component, ComponentContext, Diagnosis, NoSafeFix
from healing_mcp.components.browser.fingerprint import ElementFingerprint
from healing_mcp.components.browser.fingerprint_store import FingerprintStore, origin_of, page_key
from healing_mcp.components.browser.safe_mode import DEFAULT_BLOCK_WORDS
from healing_mcp.core.patches import WrittenFile, patch_id, restore_files, unified_diff, write_replacements
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
    from playwright.async_api import Browser, BrowserContext, Page, Playwright

    from healing_mcp.components.browser.patching import SourcePlan
    from healing_mcp.components.browser.safe_mode import SafeMode
    from healing_mcp.config import Settings

NAME = "browser"
STRATEGY = "regenerate_selector"
SELECTOR_KINDS = frozenset(
    {"selector_not_found", "timeout", "action_failed", "assertion_failed", "fingerprint_drift", "persistent_retries"}
)
_SEVERITY = {
    "fingerprint_drift": Severity.warning,
    "navigation_loop": Severity.error,
    "persistent_retries": Severity.error,
}
# A failed inline heal is followed by the failure event itself, which carries the issue.
_NOT_ISSUES = frozenset({"selector_heal_failed"})
MEMORY_METHOD = "healing memory"
_REMEMBERED = 200  # per-attempt state kept between propose/apply/revert; older entries are dropped


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


def url_wait_rule(issue: HealthIssue) -> Diagnosis | None:
    if issue.kind != "timeout" or _attr(issue, "action") != "wait_for_url":
        return None
    return Diagnosis(
        causes=[
            f"The page never reached {issue.target}: the step before did not navigate (a changed button, a "
            "refused submission, a login that failed) or the site's addresses changed."
        ],
        fixes=["Check the action before this wait, and the URL the site uses now."],
        confidence=0.6,
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


@dataclass(frozen=True)
class KindRule:
    """A root-cause rule for a symptom kind that has one explanation: ``{target}`` in the texts is the
    issue's target."""

    kind: str
    cause: str
    fix: str
    confidence: float

    def __call__(self, issue: HealthIssue) -> Diagnosis | None:
        if issue.kind != self.kind:
            return None
        return Diagnosis(causes=[self.cause.format(target=issue.target)], fixes=[self.fix], confidence=self.confidence)


KIND_RULES = (
    KindRule(
        "assertion_failed",
        "An assertion on {target} failed while its target exists: the page behaves differently (other text, "
        "state or count) or the agent's expectation is out of date.",
        "Compare the expected value with the page; update the page or the assertion.",
        0.5,
    ),
    KindRule(
        "navigation_loop",
        "The agent is cycling between pages ({target}): usually a login redirect loop or a step that reloads "
        "the page it came from.",
        "Check authentication state and redirects; add an exit condition to the flow.",
        0.6,
    ),
    KindRule(
        "persistent_retries",
        "The agent keeps retrying '{target}'; retries will not help if the page changed.",
        "Heal the underlying selector failure instead of retrying.",
        0.5,
    ),
)


# ---------------------------------------------------------------------------------- the fixer


def _samples(issue: HealthIssue) -> list[dict[str, Any]]:
    return [sample.attributes for sample in issue.evidence]


def _remember(cache: OrderedDict[str, Any], key: str, value: Any) -> None:
    cache[key] = value
    while len(cache) > _REMEMBERED:
        cache.popitem(last=False)


class RegenerateSelector:
    """Re-find the element on the live page and replace the broken selector with a resilient one."""

    name = STRATEGY
    risk = FixRisk.reversible

    def __init__(self, owner: BrowserComponent) -> None:
        self.owner = owner
        # What propose saw, for apply (blocked actions), suggest_patch (refusals) and revert (files).
        self._blocked: OrderedDict[str, list[str]] = OrderedDict()
        self._refusals: OrderedDict[str, list[str]] = OrderedDict()
        self._written: OrderedDict[str, list[WrittenFile]] = OrderedDict()

    async def propose(self, issue: HealthIssue, ctx: ComponentContext) -> list[FixPlan]:
        if issue.kind != "selector_not_found" or not issue.target:
            return []
        step = issue.step
        if step is None or not step.url:
            raise NoSafeFix("no page URL was recorded with the failure, so the element cannot be looked for")
        stored = stored_fingerprint(issue)
        from healing_mcp.components.browser.capture import candidate_handle, capture_candidates
        from healing_mcp.components.browser.matching import match_element
        from healing_mcp.components.browser.selectors import build_selector, keep_frame_chain
        from healing_mcp.components.browser.wrapper import frame_of

        async with self.owner.safe_page(issue) as (page, guard):
            await self.owner.open(page, guard, step.url)
            candidates = await capture_candidates(page)
            result = match_element(stored, [c.fingerprint for c in candidates], failed_selector=issue.target)
            if not result.healed or result.index is None:
                _remember(self._refusals, issue.id, await self._candidates(page, candidates, result))
                raise NoSafeFix(f"no element is clearly the one {issue.target!r} meant: {result.reason}")
            chosen = candidates[result.index]
            handle = await candidate_handle(page, chosen)
            choice = await build_selector(page, handle, chosen.fingerprint)
            if not choice.unique:
                raise NoSafeFix(f"found {chosen.fingerprint.summary()} but no selector matches it uniquely")
            choice = await keep_frame_chain(page, choice, handle, frame_of(issue.target))
            blocked = list(guard.blocked)
        risk = FixRisk.data_changing if self.owner.apply_source_patches else FixRisk.reversible
        description = (
            f"replace {issue.target!r} with {choice.selector!r} ({chosen.fingerprint.summary()}; "
            f"{choice.strategy}; match confidence {result.confidence:.2f})"
        )
        plan = selector_plan(issue.target, choice.selector, issue_key(step.url), result.confidence, description, risk)
        _remember(self._blocked, self._key(issue, plan), blocked)
        return [plan]

    @staticmethod
    async def _candidates(page: Page, candidates: list[Any], result: Any) -> list[str]:
        """The matcher's best candidates, each with its score and a selector a human could use."""
        from healing_mcp.components.browser.capture import candidate_handle
        from healing_mcp.components.browser.selectors import build_selector

        lines = []
        for rank, scored in enumerate(result.ranked[:3], start=1):
            candidate = candidates[scored.index]
            try:
                choice = await build_selector(page, await candidate_handle(page, candidate), candidate.fingerprint)
                selector = f" -> {choice.selector!r}" if choice.unique else ""
            except Exception:  # the element went away while we looked; its score still informs
                selector = ""
            lines.append(f"{rank}. {candidate.fingerprint.summary()} (score {scored.score:.2f}){selector}")
        return lines

    @staticmethod
    def _key(issue: HealthIssue, plan: FixPlan) -> str:
        return f"{issue.id} {plan.signature}"

    @staticmethod
    def _source(issue: HealthIssue, plan: FixPlan, ctx: ComponentContext) -> SourcePlan:
        from healing_mcp.components.browser.patching import plan_source_edits

        old, new = plan.params["old_selector"], plan.params["new_selector"]
        return plan_source_edits(ctx.project_root, old, new, _samples(issue))

    async def apply(self, issue: HealthIssue, plan: FixPlan, ctx: ComponentContext) -> FixResult:
        old, new = plan.params["old_selector"], plan.params["new_selector"]
        key = self._key(issue, plan)
        blocked = self._blocked.pop(key, [])
        changes = [f"agents with inline healing now use {new!r} for {old!r} on {plan.params['page']}"]
        notes = (
            [f"safe mode blocked {len(blocked)} request(s) or action(s) of the page while looking"] if blocked else []
        )
        source = self._source(issue, plan, ctx)
        notes.extend(f"source not patched: {note}" for note in source.notes)
        patch = self._patch(issue, plan, ctx, source)
        if patch is not None and plan.risk is FixRisk.data_changing:
            try:
                written = write_replacements(source.replacements)
            except (RuntimeError, OSError) as error:  # changed under us, or not writable: a human decides
                notes.append(f"the source was not rewritten: {error}")
            else:
                _remember(self._written, key, written)
                changes.extend(f"patched {r.describe()}" for r in source.replacements)
                patch = None
        return FixResult(applied=True, changes=changes, notes=notes, blocked=blocked, patch=patch)

    async def revert(self, issue: HealthIssue, plan: FixPlan, result: FixResult, ctx: ComponentContext) -> None:
        """The retest failed: put back the source files this fix rewrote, byte for byte, where they still
        hold what it wrote (a file edited since is left alone and a note says so)."""
        written = self._written.pop(self._key(issue, plan), None)
        result.patch = None  # a fix that did not pass its retest is nothing to make permanent
        if not written:
            return
        notes = restore_files(written)
        result.notes.extend(notes)
        ctx.log.info("source patch reverted", issue=issue.id, notes=notes)

    async def suggest_patch(
        self, issue: HealthIssue, plan: FixPlan | None, ctx: ComponentContext
    ) -> PatchSuggestion | None:
        if plan is None:
            return self._refusal(issue, ctx)
        return self._patch(issue, plan, ctx, self._source(issue, plan, ctx))

    @staticmethod
    def _patch(issue: HealthIssue, plan: FixPlan, ctx: ComponentContext, source: SourcePlan) -> PatchSuggestion | None:
        if not source.replacements:
            return None
        old, new = plan.params["old_selector"], plan.params["new_selector"]
        root = ctx.project_root.resolve()
        files = ", ".join(
            r.path.resolve().relative_to(root).as_posix() if r.path.resolve().is_relative_to(root) else str(r.path)
            for r in source.replacements
        )
        caveats = f" Not patched: {'; '.join(source.notes)}." if source.notes else ""
        how = "a fix proven in healing memory" if plan.source == "memory" else plan.description
        return PatchSuggestion(
            id=patch_id(issue.id, plan.signature),
            issue_id=issue.id,
            component=NAME,
            title=f"Replace broken selector {old!r} with {new!r}",
            target_file=str(source.replacements[0].path),
            diff=unified_diff(ctx.project_root, source.replacements),
            rationale=(
                f"{old!r} no longer matches anything on {plan.params['page']}; {new!r} does ({how}). "
                f"Commit this change ({files}) so the flow no longer depends on inline healing.{caveats}"
            ),
            risk=plan.risk,
            reason="make_permanent",
        )

    def _refusal(self, issue: HealthIssue, ctx: ComponentContext) -> PatchSuggestion | None:
        """No safe fix: where the broken selector is written and what the page offers instead."""
        from healing_mcp.components.browser.patching import broken_locations, describe_location

        candidates = self._refusals.pop(issue.id, [])
        locations = broken_locations(_samples(issue))
        if issue.kind != "selector_not_found" or not (candidates or locations):
            return None
        written = ", ".join(describe_location(ctx.project_root, path, line) for path, line in locations)
        lines = [f"{issue.target!r} matches nothing on {_attr(issue, 'url') or 'the page'}."]
        if written:
            lines.append(f"It is written at {written}.")
        if candidates:
            lines += ["The closest elements on the page now, best first:", *candidates]
            lines.append("If one of them is the element, use its selector there; the scores say how close each is.")
        return PatchSuggestion(
            id=patch_id(issue.id, "refused"),
            issue_id=issue.id,
            component=NAME,
            title=f"Broken selector {issue.target!r}: choose its element by hand",
            target_file=str(locations[0][0]) if locations else None,
            rationale="\n".join(lines),
            risk=FixRisk.reversible,
            reason="refused",
        )


# ---------------------------------------------------------------------------------- the retester


class ReplayRetester:
    def __init__(self, owner: BrowserComponent) -> None:
        self.owner = owner

    async def retest(self, issue: HealthIssue, plan: FixPlan, result: FixResult, ctx: ComponentContext) -> RetestResult:
        from healing_mcp.components.browser.replay import replay_step

        selector = plan.params.get("new_selector")
        step = issue.step
        if step is None:
            page = plan.params.get("page")
            if not page:
                return RetestResult(passed=False, notes=["no replayable step was recorded; cannot verify the fix"])
            step = ReplayStep(action="wait_for", target=selector, url=page)
        async with self.owner.safe_page(issue) as (page, guard):
            outcome = await replay_step(
                page,
                step,
                selector=selector,
                guard=guard,
                navigation_timeout_ms=self.owner.navigation_timeout_ms,
                settle_ms=self.owner.settle_ms,
            )
        return outcome.to_retest_result()


# ---------------------------------------------------------------------------------- the component


def _words(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(w, str) and w.strip() for w in value):
        raise ValueError('[components.browser] risky_words must be a list of words, e.g. ["buy", "delete"]')
    return tuple(w.strip() for w in value)


def _origins(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(o, str) and origin_of(o) for o in value):
        raise ValueError(
            '[components.browser] allowed_origins must be a list of http(s) origins, e.g. ["https://shop.example"]'
        )
    return tuple(origin_of(o) for o in value)


class BrowserComponent(Component):
    """Heals Playwright browser agents. One headless Chromium is started on first need and shared."""

    def __init__(self) -> None:
        super().__init__(
            NAME,
            description="Playwright browser agents: broken selectors, timeouts, HTTP errors, navigation loops",
            sensor=BrowserSensor(),
            rules=[
                dom_changed_rule,
                element_state_rule,
                url_wait_rule,
                drift_rule,
                http_rule,
                *KIND_RULES,
            ],
            fixers=[RegenerateSelector(self)],
            retester=ReplayRetester(self),
        )
        self.executable: str | None = None
        self.headless = True
        self.apply_source_patches = False
        self.navigation_timeout_ms = 15_000.0
        self.settle_ms = 2_000.0
        self.risky_words: tuple[str, ...] = DEFAULT_BLOCK_WORDS
        self.storage_state: Path | None = None
        self.extra_origins: tuple[str, ...] = ()
        self.fingerprints: Path | None = None
        self.project_root = Path(".")
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._owns_browser = True

    def configure(self, settings: Settings, config: dict[str, Any]) -> None:
        self.executable = config.get("executable_path")
        self.headless = bool(config.get("headless", True))
        self.apply_source_patches = bool(config.get("apply_source_patches", False))
        self.navigation_timeout_ms = float(config.get("navigation_timeout_ms", 15_000))
        self.settle_ms = float(config.get("settle_ms", 2_000))
        self.risky_words = _words(config["risky_words"]) if "risky_words" in config else DEFAULT_BLOCK_WORDS
        self.extra_origins = _origins(config.get("allowed_origins", []))
        self.project_root = settings.project_root
        state = config.get("storage_state")
        if state is not None:
            path = Path(str(state))
            self.storage_state = path if path.is_absolute() else settings.project_root / path
        self.fingerprints = settings.home / "browser" / "fingerprints.db"

    # ------------------------------------------------------------------------- browser and pages

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

    def allowed_origins(self) -> set[str]:
        """Where fix attempts and retests may navigate (loopback is always allowed by safe mode): the
        origins the wrapper saw the agent work on, and ``allowed_origins``."""
        origins = set(self.extra_origins)
        if self.fingerprints is not None and self.fingerprints.exists():
            with FingerprintStore(self.fingerprints) as store:
                origins |= store.origins()
        return origins

    def storage_state_for(self, issue: HealthIssue | None) -> Path | None:
        """The configured storage state, else the one the agent's page was recorded with (only a file
        inside the project root)."""
        if self.storage_state is not None:
            return self.storage_state
        recorded = _attr(issue, "storage_state") if issue is not None else None
        if not isinstance(recorded, str):
            return None
        path = Path(recorded)
        root = self.project_root.resolve()
        return path if path.is_file() and path.resolve().is_relative_to(root) else None

    async def new_context(self, issue: HealthIssue | None = None) -> BrowserContext:
        """A fresh, isolated context for one fix attempt or retest: no cookies shared with the agent
        except a storage state that applies; service workers blocked so every request goes through safe
        mode's interception."""
        state = self.storage_state_for(issue)
        if state is not None and not state.is_file():
            raise FileNotFoundError(
                f"[components.browser] storage_state {str(state)!r} does not exist: save one after signing in "
                "(`await context.storage_state(path=...)`) or remove the setting"
            )
        browser = await self.browser()
        if state is None:
            return await browser.new_context(service_workers="block")
        return await browser.new_context(service_workers="block", storage_state=state)

    @contextlib.asynccontextmanager
    async def safe_page(self, issue: HealthIssue) -> AsyncIterator[tuple[Page, SafeMode]]:
        """A page in a fresh context (signed in when a storage state applies) under safe mode, for one
        fix attempt or retest; the context is closed afterwards."""
        from healing_mcp.components.browser.safe_mode import SafeMode

        context = await self.new_context(issue)
        try:
            async with SafeMode(context, block_words=self.risky_words, allowed_origins=self.allowed_origins()) as guard:
                yield await context.new_page(), guard
        finally:
            await context.close()

    async def open(self, page: Page, guard: SafeMode, url: str) -> None:
        """Navigate (refusing origins the agent never used) and wait for the page to settle."""
        from healing_mcp.components.browser.replay import PageActivity, settle

        refusal = guard.navigation_refusal(url)
        if refusal:
            raise NoSafeFix(f"refused to open {url.split('?', 1)[0]}: {refusal}")
        activity = PageActivity(page)
        try:
            await page.goto(url, wait_until="load", timeout=self.navigation_timeout_ms)
            await settle(page, activity, self.settle_ms)
        finally:
            activity.stop()

    async def aclose(self) -> None:
        browser, self._browser = self._browser, None
        playwright, self._playwright = self._playwright, None
        if browser is not None and self._owns_browser:
            await browser.close()
        if playwright is not None:
            await playwright.stop()


def component() -> BrowserComponent:
    return BrowserComponent()
