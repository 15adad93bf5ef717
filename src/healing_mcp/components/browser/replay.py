"""Replaying one recorded browser step under safe mode: the browser retester's primitive.

:func:`replay_step` answers "does this step work now?" without letting it do what it would really do.
It navigates to the step's page, waits (boundedly) for the page to settle, finds the target (exactly one
element), performs the action through a :class:`~healing_mcp.components.browser.safe_mode.SafeMode`
guard and checks the step's post-condition.

The step passes only when the action was performed and what it should have done is observed:

- a click, key press, check or selection that safe mode withholds (a submit or "Buy now" button) is not
  performed, so the step is **not verified**: it fails with a note saying a human has to confirm it,
  even though the element was found;
- the post-condition is the step's ``expect``: what the agent asked for, plus what the wrapper recorded
  the original action doing (the page it led to). A fill must leave the field holding the typed value; a
  check must leave the box in the wanted state;
- when safe mode blocked a request or a submission during the step and the post-condition then fails,
  the note says so: the fix may be right, but this replay cannot show it.

Supported actions: ``goto``, ``click``, ``dblclick``, ``tap``, ``press``, ``fill``, ``type``,
``press_sequentially``, ``clear``, ``check``, ``uncheck``, ``set_checked``, ``select_option``,
``set_input_files``, ``hover``, ``focus``, ``blur``, ``scroll_into_view_if_needed``, ``wait_for`` /
``visible``, ``text``, ``input_value``, ``get_attribute``, ``expect`` (the recorded assertion, run again)
and ``http_check`` (reload the page and check a request no longer fails). Supported ``expect`` keys: see
:data:`EXPECT_KEYS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from healing_mcp.components.browser.fingerprint_store import page_key
from healing_mcp.components.browser.safe_mode import SAFE_METHODS, SafeMode, SafeModeRefusal
from healing_mcp.models import ReplayStep, RetestResult
from healing_mcp.redact import MASK

if TYPE_CHECKING:
    from playwright.async_api import Locator, Page, Request, Response

__all__ = ["EXPECT_KEYS", "PageActivity", "ReplayOutcome", "check_expectations", "replay_step", "settle"]

EXPECT_KEYS = (
    "url_contains",  # the page URL contains this text
    "url",  # the page is this one (origin and path): what the original action led to
    "visible",  # a selector is visible
    "hidden",  # a selector is hidden or absent
    "text_contains",  # the page (or {"selector", "text"}) contains a text
    "title_contains",
    "value",  # the target field holds exactly this value
    "value_contains",
    "checked",  # the target checkbox is (not) checked
    "opened",  # the target disclosure is (not) open: aria-expanded, or its <details>
)
NOT_VERIFIED = "not verified"
_CLICKS = {"click", "dblclick", "tap"}
_TYPING = {"fill", "type", "press_sequentially"}
_READS = {"text", "input_value", "get_attribute"}
_PLAIN = {"hover", "focus", "blur", "scroll_into_view_if_needed"}
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


class _Withheld(Exception):
    """Safe mode withheld the action; the message is the note."""


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


# ------------------------------------------------------------------------------------------ settling


class PageActivity:
    """The requests a page has in flight, counted from when this was created (before navigating)."""

    def __init__(self, page: Page) -> None:
        self._page = page
        self._inflight: set[Request] = set()
        self.changed_at = time.monotonic()
        """When a request last started or ended."""
        page.on("request", self._started)
        page.on("requestfinished", self._ended)
        page.on("requestfailed", self._ended)

    def _started(self, request: Request) -> None:
        self._inflight.add(request)
        self.changed_at = time.monotonic()

    def _ended(self, request: Request) -> None:
        self._inflight.discard(request)
        self.changed_at = time.monotonic()

    def idle_since(self, moment: float) -> bool:
        """Nothing in flight, and nothing started or ended after ``moment``."""
        return not self._inflight and self.changed_at <= moment

    def stop(self) -> None:
        self._page.remove_listener("request", self._started)
        self._page.remove_listener("requestfinished", self._ended)
        self._page.remove_listener("requestfailed", self._ended)


# Resolves once the document has not changed for `quiet` ms (false when `limit` ms pass first).
_QUIET_JS = """
([quiet, limit]) => new Promise((resolve) => {
  let timer = null;
  const finish = (value) => { observer.disconnect(); clearTimeout(timer); clearTimeout(cap); resolve(value); };
  const observer = new MutationObserver(() => { clearTimeout(timer); timer = setTimeout(() => finish(true), quiet); });
  observer.observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
  timer = setTimeout(() => finish(true), quiet);
  const cap = setTimeout(() => finish(false), limit);
})
"""


async def settle(page: Page, activity: PageActivity | None, timeout_ms: float, *, quiet_ms: float = 150) -> bool:
    """Wait, at most ``timeout_ms``, until the page looks finished: no request in flight and the DOM
    unchanged for ``quiet_ms``. Pages that render after ``load`` (data fetched by scripts, lazy
    components) are then captured or acted on as a person would see them. True when it settled."""
    deadline = time.monotonic() + timeout_ms / 1000
    while (remaining := (deadline - time.monotonic()) * 1000) > 0:
        window = time.monotonic()
        try:
            quiet = await page.evaluate(_QUIET_JS, [quiet_ms, remaining])
        except Exception:  # navigating: the next document is what we wait for
            quiet = False
        # The quiet window must have begun after the last response: a page renders what it fetched
        # right after the response arrives.
        if quiet and (activity is None or activity.idle_since(window)):
            return True
        await asyncio.sleep(_POLL_SECONDS)
    return False


# ------------------------------------------------------------------------------------------ actions


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


async def _withheld(locator: Locator, reason: str, action: str, timeout_ms: float) -> _Withheld:
    """A refused action: say whether the element would at least have been usable."""
    if not await _poll(locator.is_visible, timeout_ms):
        raise _StepFailed(f"the element is not visible (the {action} would be withheld anyway: {reason})")
    if not await locator.is_enabled():
        raise _StepFailed(f"the element is disabled (the {action} would be withheld anyway: {reason})")
    return _Withheld(
        f"{NOT_VERIFIED}: the {action} was withheld for safety ({reason}); the element is found, visible and "
        "enabled, but whether the fix does what the step did needs a human to confirm"
    )


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"regex", "flags"}:
        return re.compile(str(value["regex"]), int(value["flags"]))
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


async def _assertion(page: Page, locator: Locator | None, args: dict[str, Any], timeout_ms: float) -> str:
    """Run the recorded ``expect(...)`` assertion again; returns the note."""
    from playwright.async_api import expect

    name = str(args.get("assertion", ""))
    if "unrecorded" in args:
        raise _StepFailed(f"{NOT_VERIFIED}: the arguments of {name} could not be recorded ({args['unrecorded']})")
    if not re.fullmatch(r"(not_)?to_[a-z_]+", name):
        raise _StepFailed(f"unknown assertion {name!r}")
    subject: Any = expect(locator) if locator is not None else expect(page)
    positional = [_decode(a) for a in args.get("args") or []]
    keywords = {str(k): _decode(v) for k, v in (args.get("kwargs") or {}).items()}
    try:
        await getattr(subject, name)(*positional, timeout=timeout_ms, **keywords)
    except AssertionError as error:
        raise _StepFailed(f"{name} does not hold: {_first_line(error)}") from error
    return f"{name} holds"


async def _typed(locator: Locator, action: str, value: str, guard: SafeMode, timeout_ms: float) -> None:
    if action == "fill":
        await guard.fill(locator, value, timeout=timeout_ms)
    else:
        await locator.press_sequentially(value, timeout=timeout_ms)


async def _perform(
    page: Page, step: ReplayStep, selector: str | None, guard: SafeMode, timeout_ms: float, notes: list[str]
) -> dict[str, Any]:
    """Do the action. Returns the post-conditions the action itself implies (a fill leaves its value in
    the field); raises :class:`_Withheld` when safe mode refused it."""
    action = step.action.strip().lower()
    args = step.args
    if action == "expect":
        notes.append(await _assertion(page, page.locator(selector) if selector else None, args, timeout_ms))
        return {}
    if not selector:
        raise _StepFailed(f"the {action} step has no target selector")
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
        return {}
    await _resolve_unique(locator, selector, timeout_ms)
    try:
        return await _act(locator, action, args, selector, guard, timeout_ms, notes)
    except SafeModeRefusal as refusal:
        raise await _withheld(locator, refusal.reason, refusal.action, timeout_ms) from refusal


async def _act(
    locator: Locator,
    action: str,
    args: dict[str, Any],
    selector: str,
    guard: SafeMode,
    timeout_ms: float,
    notes: list[str],
) -> dict[str, Any]:
    if action in _CLICKS:
        reason = await guard.check_click(locator)
        if reason:
            raise guard.refuse(action, reason)
        await getattr(locator, action)(timeout=timeout_ms)
        return {}
    if action in _TYPING:
        value = str(args.get("value", args.get("text", "")))
        if value == MASK:
            notes.append("the recorded value was redacted; a placeholder was typed instead")
            value = "healing-check"
        await _typed(locator, action, value, guard, timeout_ms)
        return {"value": value} if action == "fill" else {"value_contains": value}
    if action == "clear":
        await locator.clear(timeout=timeout_ms)
        return {"value": ""}
    if action == "press":
        await guard.press(locator, str(args.get("key") or "Enter"), timeout=timeout_ms)
        return {}
    if action in ("check", "uncheck", "set_checked"):
        checked = action == "check" or (action == "set_checked" and bool(args.get("checked", True)))
        await guard.set_checked(locator, checked, timeout=timeout_ms)
        return {"checked": checked}
    if action == "select_option":
        choice = {k: args[k] for k in ("value", "label", "index") if args.get(k) is not None}
        if not choice:
            raise _StepFailed("select_option needs a value, label or index in the step's args")
        await guard.select_option(locator, **choice)
        return {}
    if action == "set_input_files":
        if await locator.evaluate("(el) => el.localName === 'input' && el.type === 'file'") is not True:
            raise _StepFailed(f"{selector!r} is not a file input")
        await locator.set_input_files([], timeout=timeout_ms)
        notes.append("the file input was found and accepts files (no file was uploaded again)")
        return {}
    if action in _PLAIN:
        await getattr(locator, action)(timeout=timeout_ms)
        return {}
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
        return {}
    raise _StepFailed(f"unsupported action {action!r}")


# ------------------------------------------------------------------------------------------ post-conditions


def _selector_and_text(value: Any) -> tuple[str | None, str]:
    if isinstance(value, dict):
        return value.get("selector"), str(value.get("text", ""))
    if isinstance(value, list | tuple) and len(value) == 2:
        return str(value[0]), str(value[1])
    return None, str(value)


async def _field_value(page: Page, target: str) -> str:
    locator = page.locator(target)
    try:
        return await locator.input_value(timeout=_POLL_SECONDS * 4000)
    except Exception:  # a contenteditable element holds text, not a value
        return await locator.inner_text(timeout=_POLL_SECONDS * 4000)


async def check_expectations(
    page: Page, expect: dict[str, Any], timeout_ms: float, *, target: str | None = None
) -> list[str]:
    """Failed post-conditions, in plain words (empty when all hold). ``target`` is the selector of the
    element the step acted on (for ``value`` and ``checked``). Values typed into fields are never quoted
    in the result: they may be secrets."""
    failures: list[str] = []
    for key, value in expect.items():
        if key == "url_contains":
            text = str(value)

            async def url_ok(text: str = text) -> bool:
                return text in page.url

            if not await _poll(url_ok, timeout_ms):
                failures.append(f"URL {page.url!r} does not contain {text!r}")
        elif key == "url":
            wanted = page_key(str(value))

            async def page_ok(wanted: str = wanted) -> bool:
                return page_key(page.url) == wanted

            if not await _poll(page_ok, timeout_ms):
                failures.append(f"the page is {page_key(page.url)}, not {wanted} where the original action led")
        elif key in ("visible", "hidden"):
            try:
                await page.locator(str(value)).first.wait_for(state=_WAIT_STATES[key], timeout=timeout_ms)
            except Exception:
                failures.append(f"{str(value)!r} is not {key}")
        elif key == "text_contains":
            selector, text = _selector_and_text(value)
            located = page.locator(selector or "body").first

            async def text_ok(located: Locator = located, text: str = text) -> bool:
                return text in await located.inner_text(timeout=_POLL_SECONDS * 4000)

            if not await _poll(text_ok, timeout_ms):
                failures.append(f"{selector or 'the page'!r} does not contain the text {text!r}")
        elif key == "title_contains":
            text = str(value)

            async def title_ok(text: str = text) -> bool:
                return text in await page.title()

            if not await _poll(title_ok, timeout_ms):
                failures.append(f"title {await page.title()!r} does not contain {text!r}")
        elif key in ("value", "value_contains", "checked", "opened") and target is None:
            failures.append(f"{key!r} needs the element the step acted on (cannot be verified)")
        elif key in ("value", "value_contains"):
            expected = str(value)

            async def value_ok(
                expected: str = expected, exact: bool = key == "value", field: str = str(target)
            ) -> bool:
                current = await _field_value(page, field)
                return current == expected if exact else expected in current

            if not await _poll(value_ok, timeout_ms):
                failures.append("the field does not hold the typed value")
        elif key == "checked":
            wanted_state = bool(value)

            async def checked_ok(wanted_state: bool = wanted_state, checked: str = str(target)) -> bool:
                return await page.locator(checked).is_checked(timeout=_POLL_SECONDS * 4000) == wanted_state

            if not await _poll(checked_ok, timeout_ms):
                failures.append(f"the box is {'not ' if wanted_state else ''}checked")
        elif key == "opened":
            from healing_mcp.components.browser.wrapper import OPENED_JS

            wanted_open = bool(value)

            async def opened_ok(wanted_open: bool = wanted_open, disclosure: str = str(target)) -> bool:
                located = page.locator(disclosure)
                return bool(await located.evaluate(OPENED_JS, timeout=_POLL_SECONDS * 4000)) == wanted_open

            if not await _poll(opened_ok, timeout_ms):
                failures.append(f"it did not {'open' if wanted_open else 'close'} what the original action did")
        else:
            failures.append(f"unsupported expectation {key!r} (cannot be verified)")
    return failures


# ------------------------------------------------------------------------------------------ http check


async def _http_check(
    page: Page, step: ReplayStep, guard: SafeMode, timeout_ms: float, nav_timeout_ms: float
) -> list[str]:
    """Reload the step's page and watch the request that failed. Returns notes; raises when it fails."""
    method = str(step.args.get("method") or "GET").upper()
    path = str(step.args.get("path") or (step.target or "").partition(" ")[2] or "")
    if method not in SAFE_METHODS:
        raise _StepFailed(f"a {method} request cannot be replayed in safe mode")
    if not step.url or not path:
        raise _StepFailed("http_check needs the page URL and the request path")
    refusal = guard.navigation_refusal(step.url)
    if refusal:
        raise _StepFailed(f"refused to open {step.url.split('?', 1)[0]}: {refusal}")
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


# ------------------------------------------------------------------------------------------ entry point


async def replay_step(
    page: Page,
    step: ReplayStep,
    *,
    selector: str | None = None,
    guard: SafeMode,
    timeout_ms: float = 3_000,
    navigation_timeout_ms: float = 10_000,
    settle_ms: float = 2_000,
) -> ReplayOutcome:
    """Replay ``step`` on ``page`` under ``guard`` (an entered :class:`SafeMode`).

    ``selector`` overrides ``step.target`` (the healed selector under test). ``settle_ms`` bounds the
    wait for the page to finish rendering after ``load``. Never raises for a failing step: the outcome
    says what went wrong.
    """
    from playwright.async_api import Error as PlaywrightError

    page = getattr(page, "raw", page)  # an instrumented page: retests must not report agent events
    if not guard.active:
        raise ValueError("replay_step needs an active SafeMode: use 'async with SafeMode(page) as guard'")
    started = time.monotonic()
    first_blocked = len(guard.blocked)
    activity = PageActivity(page)
    notes: list[str] = []
    passed = False
    action = step.action.strip().lower()
    try:
        if action == "http_check":
            notes.extend(await _http_check(page, step, guard, timeout_ms, navigation_timeout_ms))
            passed = True
        else:
            timeouts = (timeout_ms, navigation_timeout_ms, settle_ms)
            passed = await _replay(page, step, selector, guard, activity, notes, *timeouts)
            blocked = len(guard.blocked) > first_blocked
            if not passed and blocked and not any(n.startswith(NOT_VERIFIED) for n in notes):
                notes.append(
                    f"{NOT_VERIFIED}: safe mode blocked what the step would have done "
                    f"({guard.blocked[first_blocked]}), and its post-condition depends on it"
                )
    except (_StepFailed, _Withheld) as failure:
        notes.append(str(failure))
    except PlaywrightError as error:
        notes.append(f"{action} failed: {_first_line(error)}")
    finally:
        activity.stop()
    await guard.settle()
    return ReplayOutcome(
        passed=passed,
        notes=notes,
        blocked=guard.blocked[first_blocked:],
        duration_ms=round((time.monotonic() - started) * 1000, 1),
    )


async def _replay(
    page: Page,
    step: ReplayStep,
    selector: str | None,
    guard: SafeMode,
    activity: PageActivity,
    notes: list[str],
    timeout_ms: float,
    navigation_timeout_ms: float,
    settle_ms: float,
) -> bool:
    action = step.action.strip().lower()
    if action == "wait_for_url":
        raise _StepFailed("waiting for a URL depends on the step before it; it cannot be replayed on its own")
    url = step.url or (step.target if action == "goto" else None)
    if url:
        refusal = guard.navigation_refusal(url)
        if refusal:
            raise _StepFailed(f"refused to open {url.split('?', 1)[0]}: {refusal}")
        response = await page.goto(url, wait_until="load", timeout=navigation_timeout_ms)
        if response is not None and response.status >= 400:
            notes.append(f"{url} answered {response.status}")
        await settle(page, activity, settle_ms)
    implied: dict[str, Any] = {}
    target = selector or step.target
    if action != "goto":
        try:
            implied = await _perform(page, step, target, guard, timeout_ms, notes)
        except _Withheld as withheld:
            if step.expect:
                notes.append("post-conditions not checked: they depend on the withheld action")
            raise withheld from None
    checks = {**implied, **(step.expect or {})}
    failures = await check_expectations(page, checks, timeout_ms, target=target) if checks else []
    notes.extend(failures)
    return not failures
