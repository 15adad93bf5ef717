"""Replaying one recorded browser step under safe mode: the browser retester's primitive.

:func:`replay_step` answers "does this step work now?" without letting it do what it would really do.
It navigates to the step's page, finds the target (exactly one element), performs the action through a
:class:`~healing_mcp.components.browser.safe_mode.SafeMode` guard and checks the step's post-condition.

A click that safe mode refuses (a submit or "Buy now" button) is not performed; the step passes when the
element is found exactly once, visible and enabled, with a note that the click was withheld. The
post-condition is then not checked, since it would depend on the click.

Supported actions: ``goto``, ``click``, ``dblclick``, ``fill``, ``press``, ``check``, ``uncheck``,
``select_option``, ``hover``, ``wait_for`` / ``visible``, ``text``, ``input_value``, ``get_attribute``, and
``http_check`` (reload the page and check a request no longer fails). Supported ``expect`` keys:
``url_contains``, ``visible``, ``hidden``, ``text_contains`` and ``title_contains``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from healing_mcp.components.browser.safe_mode import SAFE_METHODS, SafeMode, SafeModeRefusal
from healing_mcp.models import ReplayStep, RetestResult
from healing_mcp.redact import MASK

if TYPE_CHECKING:
    from playwright.async_api import Locator, Page, Response

__all__ = ["EXPECT_KEYS", "ReplayOutcome", "replay_step"]

EXPECT_KEYS = ("url_contains", "visible", "hidden", "text_contains", "title_contains")
_CLICKS = {"click", "dblclick", "tap"}
_READS = {"text", "input_value", "get_attribute"}
_POLL_SECONDS = 0.05
_WaitState = Literal["attached", "detached", "hidden", "visible"]
_WAIT_STATES: dict[str, _WaitState] = {
    "attached": "attached",
    "detached": "detached",
    "hidden": "hidden",
    "visible": "visible",
}


@dataclass
class ReplayOutcome:
    passed: bool
    notes: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    duration_ms: float | None = None

    def to_retest_result(self) -> RetestResult:
        return RetestResult(
            passed=self.passed, notes=list(self.notes), blocked=list(self.blocked), duration_ms=self.duration_ms
        )


class _StepFailed(Exception):
    """The step cannot pass; the message is the note."""


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


async def _poll(check: Callable[[], Awaitable[bool]], timeout_ms: float) -> bool:
    """True as soon as ``check`` is; False when ``timeout_ms`` runs out. Errors count as "not yet"."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        try:
            if await check():
                return True
        except Exception:  # noqa: S110 - navigating pages throw while the check runs; try again
            pass
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(_POLL_SECONDS)


async def _resolve_unique(locator: Locator, selector: str, timeout_ms: float) -> None:
    """Wait for ``selector`` to match, then insist on exactly one element."""
    from playwright.async_api import Error as PlaywrightError

    try:
        await locator.first.wait_for(state="attached", timeout=timeout_ms)
    except PlaywrightError as error:
        raise _StepFailed(f"no element matches {selector!r} ({_first_line(error)})") from error
    count = await locator.count()
    if count != 1:
        raise _StepFailed(f"{count} elements match {selector!r}; the step needs exactly one")


async def _withheld(locator: Locator, reason: str, action: str, timeout_ms: float) -> str:
    """A refused click: the step still passes when the element is visible and enabled."""
    if not await _poll(locator.is_visible, timeout_ms):
        raise _StepFailed(f"the element is not visible (the {action} would be withheld anyway: {reason})")
    if not await locator.is_enabled():
        raise _StepFailed(f"the element is disabled (the {action} would be withheld anyway: {reason})")
    return f"{action} withheld for safety ({reason}); the element is found, visible and enabled"


async def _perform(
    page: Page, step: ReplayStep, selector: str, guard: SafeMode, timeout_ms: float, notes: list[str]
) -> bool:
    """Do the action. Returns False when it was withheld (so its effects cannot be checked)."""
    action = step.action.strip().lower()
    args = step.args
    locator = page.locator(selector)
    if action in ("wait_for", "visible"):
        state = _WAIT_STATES.get(str(args.get("state") or "visible"))
        if state is None:
            raise _StepFailed(f"unknown wait state {args.get('state')!r}")
        try:
            await locator.first.wait_for(state=state, timeout=timeout_ms)
        except Exception as error:
            raise _StepFailed(f"{selector!r} did not become {state}: {_first_line(error)}") from error
        if state in ("visible", "attached") and await locator.count() != 1:
            notes.append(f"{await locator.count()} elements match {selector!r}")
        return True
    await _resolve_unique(locator, selector, timeout_ms)
    if action in _CLICKS:
        try:
            if action == "click":
                await guard.click(locator, timeout=timeout_ms)
            else:
                reason = await guard.check_click(locator)
                if reason:
                    raise guard.refuse(action, reason)
                await getattr(locator, action)(timeout=timeout_ms)
        except SafeModeRefusal as refusal:
            notes.append(await _withheld(locator, refusal.reason, action, timeout_ms))
            return False
        return True
    if action == "fill":
        value = str(args.get("value", args.get("text", "")))
        if value == MASK:
            notes.append("the recorded value was redacted; a placeholder was typed instead")
            value = "healing-check"
        await guard.fill(locator, value, timeout=timeout_ms)
        return True
    if action == "press":
        key = str(args.get("key") or "Enter")
        try:
            await guard.press(locator, key, timeout=timeout_ms)
        except SafeModeRefusal as refusal:
            notes.append(await _withheld(locator, refusal.reason, f"press {key}", timeout_ms))
            return False
        return True
    if action in ("check", "uncheck"):
        await getattr(locator, action)(timeout=timeout_ms)
        return True
    if action == "select_option":
        choice = {k: args[k] for k in ("value", "label", "index") if args.get(k) is not None}
        if not choice:
            raise _StepFailed("select_option needs a value, label or index in the step's args")
        await locator.select_option(timeout=timeout_ms, **choice)
        return True
    if action == "hover":
        await locator.hover(timeout=timeout_ms)
        return True
    if action in _READS:
        if action == "text":
            value = await locator.inner_text(timeout=timeout_ms)
        elif action == "input_value":
            value = await locator.input_value(timeout=timeout_ms)
        else:
            value = await locator.get_attribute(str(args.get("name", "")), timeout=timeout_ms) or ""
        wanted = args.get("contains")
        if wanted is not None and str(wanted) not in value:
            raise _StepFailed(f"{action} of {selector!r} is {value[:120]!r}, without {str(wanted)!r}")
        notes.append(f"{action} of {selector!r}: {value[:120]!r}")
        return True
    raise _StepFailed(f"unsupported action {step.action!r}")


def _selector_and_text(value: Any) -> tuple[str | None, str]:
    if isinstance(value, dict):
        return value.get("selector"), str(value.get("text", ""))
    if isinstance(value, list | tuple) and len(value) == 2:
        return str(value[0]), str(value[1])
    return None, str(value)


async def _check_expectations(page: Page, expect: dict[str, Any], timeout_ms: float) -> list[str]:
    """Failed post-conditions, in plain words (empty when all hold)."""
    failures: list[str] = []
    for key, value in expect.items():
        if key == "url_contains":
            text = str(value)

            async def url_ok(text: str = text) -> bool:
                return text in page.url

            if not await _poll(url_ok, timeout_ms):
                failures.append(f"URL {page.url!r} does not contain {text!r}")
        elif key in ("visible", "hidden"):
            try:
                await page.locator(str(value)).first.wait_for(state=_WAIT_STATES[key], timeout=timeout_ms)
            except Exception:
                failures.append(f"{str(value)!r} is not {key}")
        elif key == "text_contains":
            selector, text = _selector_and_text(value)
            target = page.locator(selector or "body").first

            async def text_ok(target: Locator = target, text: str = text) -> bool:
                return text in await target.inner_text(timeout=_POLL_SECONDS * 4000)

            if not await _poll(text_ok, timeout_ms):
                failures.append(f"{selector or 'the page'!r} does not contain the text {text!r}")
        elif key == "title_contains":
            text = str(value)

            async def title_ok(text: str = text) -> bool:
                return text in await page.title()

            if not await _poll(title_ok, timeout_ms):
                failures.append(f"title {await page.title()!r} does not contain {text!r}")
        else:
            failures.append(f"unsupported expectation {key!r} (cannot be verified)")
    return failures


async def _http_check(page: Page, step: ReplayStep, timeout_ms: float, nav_timeout_ms: float) -> list[str]:
    """Reload the step's page and watch the request that failed. Returns notes; raises when it fails."""
    method = str(step.args.get("method") or "GET").upper()
    path = str(step.args.get("path") or (step.target or "").partition(" ")[2] or "")
    if method not in SAFE_METHODS:
        raise _StepFailed(f"a {method} request cannot be replayed in safe mode")
    if not step.url or not path:
        raise _StepFailed("http_check needs the page URL and the request path")
    statuses: list[int] = []

    def watch(response: Response) -> None:
        url = response.url.split("#", 1)[0].split("?", 1)[0]
        if response.request.method.upper() == method and url.endswith(path):
            statuses.append(response.status)

    page.on("response", watch)
    try:
        await page.goto(step.url, wait_until="load", timeout=nav_timeout_ms)
        # Busy pages never go idle; what was seen until the timeout counts.
        with contextlib.suppress(Exception):
            await page.wait_for_load_state("networkidle", timeout=timeout_ms)
    finally:
        page.remove_listener("response", watch)
    if not statuses:
        raise _StepFailed(f"{method} {path} was not requested while the page loaded; cannot confirm a fix")
    bad = [s for s in statuses if s >= 400]
    if bad:
        raise _StepFailed(f"{method} {path} still answers {bad[-1]}")
    return [f"{method} {path} answered {statuses[-1]}"]


async def replay_step(
    page: Page,
    step: ReplayStep,
    *,
    selector: str | None = None,
    guard: SafeMode,
    timeout_ms: float = 3_000,
    navigation_timeout_ms: float = 10_000,
) -> ReplayOutcome:
    """Replay ``step`` on ``page`` under ``guard`` (an entered :class:`SafeMode`).

    ``selector`` overrides ``step.target`` (the healed selector under test). Never raises for a failing
    step: the outcome says what went wrong.
    """
    from playwright.async_api import Error as PlaywrightError

    page = getattr(page, "raw", page)  # an instrumented page: retests must not report agent events
    if not guard.active:
        raise ValueError("replay_step needs an active SafeMode: use 'async with SafeMode(page) as guard'")
    started = time.monotonic()
    first_blocked = len(guard.blocked)
    notes: list[str] = []
    passed = False
    action = step.action.strip().lower()
    try:
        if action == "http_check":
            notes.extend(await _http_check(page, step, timeout_ms, navigation_timeout_ms))
            passed = True
        else:
            url = step.url or (step.target if action == "goto" else None)
            if url:
                response = await page.goto(url, wait_until="load", timeout=navigation_timeout_ms)
                if response is not None and response.status >= 400:
                    notes.append(f"{url} answered {response.status}")
            acted = True
            if action != "goto":
                target = selector or step.target
                if not target:
                    raise _StepFailed(f"the {action} step has no target selector")
                acted = await _perform(page, step, target, guard, timeout_ms, notes)
            failures: list[str] = []
            if step.expect and acted:
                failures = await _check_expectations(page, step.expect, timeout_ms)
            elif step.expect:
                notes.append("post-conditions not checked: they depend on the withheld action")
            notes.extend(failures)
            passed = not failures
    except _StepFailed as failure:
        notes.append(str(failure))
    except PlaywrightError as error:
        notes.append(f"{action} failed: {_first_line(error)}")
    await guard.settle()
    return ReplayOutcome(
        passed=passed,
        notes=notes,
        blocked=guard.blocked[first_blocked:],
        duration_ms=round((time.monotonic() - started) * 1000, 1),
    )
