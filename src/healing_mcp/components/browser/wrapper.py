"""The one-line hook for browser agents: ``page = instrument(page)``.

:func:`instrument` wraps an async Playwright ``Page`` in an :class:`InstrumentedPage` that behaves like
the page for the calls agents make (``goto``, ``locator``, ``get_by_*``, ``click``, ``fill``...) and
hands out wrapped locators. Everything else passes straight through to the page. The wrapper:

- remembers the element behind each selector that works (a fingerprint in :class:`FingerprintStore`),
  so a later failure can be healed by similarity instead of guesswork;
- reports failures as events (component ``"browser"``) with a replayable step: ``selector_not_found``,
  ``timeout``, ``action_failed``, ``navigation_error``, ``navigation_loop``, ``http_error``,
  ``fingerprint_drift`` and ``persistent_retries``;
- re-raises the original Playwright error, so the agent's own error handling is unchanged, unless
  inline healing is switched on and an injected healer finds the element again (``selector_healed``).

Cost per call: in the steady state nothing but a dictionary lookup. A fingerprint is captured only when
one is due (see ``capture``), which costs two round trips to the browser and one SQLite upsert.

Example::

    from healing_mcp.components.browser.wrapper import instrument
    from healing_mcp.events import EventReporter

    page = instrument(await browser.new_page(), reporter=EventReporter(stream="shop-agent"))
    await page.goto("https://shop.example/cart")
    await page.get_by_role("button", name="Checkout").click()

Use ``wrapped.raw`` where Playwright insists on its own objects (``expect(locator.raw)``).
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from healing_mcp.components.browser.fingerprint import ElementFingerprint
from healing_mcp.components.browser.fingerprint_store import FingerprintStore, StoredFingerprint, page_key
from healing_mcp.events import EventReporter
from healing_mcp.models import ReplayStep, Severity
from healing_mcp.redact import MASK, redact

if TYPE_CHECKING:
    from playwright.async_api import ElementHandle, Frame, FrameLocator, Locator, Page, Response

__all__ = [
    "CaptureMode",
    "DriftScorer",
    "Fingerprinter",
    "HealDecision",
    "Healer",
    "InstrumentOptions",
    "InstrumentedFrameLocator",
    "InstrumentedLocator",
    "InstrumentedPage",
    "fingerprint_similarity",
    "instrument",
    "selector_of",
    "similarity_healer",
]

log = logging.getLogger("healing_mcp.browser")

COMPONENT = "browser"
ENTER_FRAME = " >> internal:control=enter-frame >> "
CaptureMode = Literal["always", "first", "never"]

T = TypeVar("T")


@dataclass(frozen=True)
class HealDecision:
    """A healer's answer: act on ``selector`` instead. ``method`` says how it was found."""

    selector: str
    confidence: float = 0.0
    method: str = ""
    notes: list[str] = field(default_factory=list)


Healer = Callable[["Page", str, ElementFingerprint | None, str], Awaitable[HealDecision | None]]
"""``async healer(page, failed_selector, stored_fingerprint, action) -> HealDecision | None``.

The returned selector is page-level: for an element in an iframe it includes the frame chain
(``iframe#pay >> internal:control=enter-frame >> button``), like the failed selector it was given."""

Fingerprinter = Callable[["ElementHandle"], Awaitable[ElementFingerprint]]
DriftScorer = Callable[[ElementFingerprint, ElementFingerprint], float]
"""Similarity of a stored and a fresh fingerprint of the same element, 0 (unrelated) to 1 (identical)."""


@dataclass
class InstrumentOptions:
    """Tuning of :func:`instrument`. Every field is also a keyword argument of :func:`instrument`."""

    heal: bool = False
    """Try the healer on every action; per call, ``heal=True/False`` overrides."""
    capture: CaptureMode = "first"
    """When to fingerprint the element of a successful action: ``always``; ``first`` (once per page and
    selector, again when the record is older than ``refresh_minutes``); ``never``."""
    refresh_minutes: float = 30.0
    retry_threshold: int = 3
    """Report ``persistent_retries`` when one selector fails this many times in a row (and each multiple)."""
    drift_threshold: float = 0.75
    """A fresh fingerprint less similar than this to the stored one is reported as ``fingerprint_drift``."""
    loop_repeats: int = 2
    """A navigation cycle must repeat this many times in a row (A->B->A->B is 2) to count as a loop."""
    loop_max_period: int = 4
    """Longest cycle (in distinct URLs) that loop detection looks for."""
    http_errors: bool = True
    http_min_status: int = 400
    http_dedupe_seconds: float = 30.0
    """The same (method, path, status) is reported at most once in this many seconds."""
    max_error_chars: int = 2_000


# ------------------------------------------------------------------------------------------ helpers


def selector_of(locator: Any) -> str:
    """The page-level Playwright selector of a locator (frame chain included), e.g.
    ``internal:role=button[name="Buy"i]`` or ``iframe >> internal:control=enter-frame >> #pay``.

    Playwright keeps it on the implementation object; its ``repr`` carries the same text as a fallback.
    """
    impl = getattr(locator, "_impl_obj", locator)
    for attribute in ("_selector", "_frame_selector"):
        value = getattr(impl, attribute, None)
        if isinstance(value, str):
            return value
    found = re.search(r"selector='(.*)'>?$", repr(locator))
    return found.group(1) if found else repr(locator)


def frame_of(selector: str) -> str:
    """The frame chain part of a page-level selector ("" for the main frame)."""
    head, sep, _ = selector.rpartition(ENTER_FRAME)
    return head if sep else ""


def _strip_query(url: str) -> str:
    return url.split("#", 1)[0].split("?", 1)[0]


def _without_fragment(url: str) -> str:
    return url.split("#", 1)[0]


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


_SENSITIVE_TARGET = re.compile(
    r"pass(word|wd|code)?|pwd|secret|token|otp|pin\b|cvv|cvc|card|iban|ssn|api[-_]?key", re.IGNORECASE
)


def _text_similarity(a: str, b: str) -> float:
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    return difflib.SequenceMatcher(None, a[:200], b[:200]).ratio()


def _set_similarity(a: Iterable[str], b: Iterable[str]) -> float:
    left, right = set(a), set(b)
    if not left and not right:
        return 1.0
    return len(left & right) / len(left | right)


# Field -> weight. Location-ish data (bbox, visibility, value) is left out on purpose: it changes with
# scrolling, layout and typing without the element being any different.
_DRIFT_WEIGHTS: dict[str, float] = {
    "tag": 3.0,
    "id": 2.0,
    "test_id": 3.0,
    "name": 1.5,
    "type": 1.0,
    "role": 1.0,
    "accessible_name": 2.0,
    "text": 1.5,
    "classes": 1.0,
    "placeholder": 1.0,
    "aria_label": 1.0,
    "href": 1.0,
    "ancestors": 1.5,
    "xpath": 0.5,
}


def _field_similarity(name: str, old: ElementFingerprint, new: ElementFingerprint) -> float | None:
    """Similarity of one field, or None when neither fingerprint has it (it then does not count)."""
    a, b = getattr(old, name), getattr(new, name)
    if not a and not b:
        return None
    if isinstance(a, list):
        return _set_similarity(a, b)
    if name in ("text", "accessible_name"):
        return _text_similarity(str(a), str(b))
    return 1.0 if a == b else 0.0


def fingerprint_similarity(old: ElementFingerprint, new: ElementFingerprint) -> float:
    """Weighted similarity of two fingerprints of what should be the same element (0..1)."""
    total = weight_sum = 0.0
    for name, weight in _DRIFT_WEIGHTS.items():
        similarity = _field_similarity(name, old, new)
        if similarity is not None:
            total += weight * similarity
            weight_sum += weight
    return total / weight_sum if weight_sum else 1.0


def changed_fields(old: ElementFingerprint, new: ElementFingerprint) -> list[str]:
    return [
        name
        for name in _DRIFT_WEIGHTS
        if (similarity := _field_similarity(name, old, new)) is not None and similarity < 0.999
    ]


def _default_fingerprinter() -> Fingerprinter | None:
    try:
        from healing_mcp.components.browser.capture import capture_fingerprint
    except ImportError:  # capture support not installed: run without fingerprints
        log.warning("element capture is unavailable; fingerprints will not be recorded")
        return None
    return capture_fingerprint


def _playwright_errors() -> tuple[type[Exception], type[Exception]]:
    from playwright.async_api import Error, TimeoutError

    return Error, TimeoutError


def _closed(error: BaseException) -> bool:
    """The agent closed the page or browser under a pending call: its own doing, not a failure."""
    return type(error).__name__ == "TargetClosedError" or "has been closed" in str(error)


class _NotHealed:
    pass


_NOT_HEALED = _NotHealed()


# ------------------------------------------------------------------------------------------ session


@dataclass
class _Action:
    """One agent call, described well enough to report it, fingerprint its element and heal it."""

    name: str
    selector: str
    element: Callable[[], Locator]
    invoke: Callable[[], Awaitable[Any]]
    retarget: Callable[[str], Awaitable[Any]]
    strict: bool = True
    args: dict[str, Any] = field(default_factory=dict)
    expect: dict[str, Any] | None = None
    heal: bool | None = None
    waits_for_absence: bool = False


class _Session:
    """State shared by a wrapped page and every locator it hands out."""

    def __init__(
        self,
        page: Page,
        reporter: EventReporter,
        store: FingerprintStore,
        options: InstrumentOptions,
        healer: Healer | None,
        fingerprinter: Fingerprinter | None,
        drift_scorer: DriftScorer,
    ) -> None:
        self.page = page
        self.reporter = reporter
        self.store = store
        self.options = options
        self.healer = healer
        self.fingerprinter = fingerprinter
        self.drift_scorer = drift_scorer
        self.failures: dict[str, int] = {}
        # (page key, selector) -> when its fingerprint was last recorded (by anyone), to decide when
        # capture is due without reading the database on every call.
        self._last_capture: dict[tuple[str, str], datetime] = {}
        self._navigations: deque[str] = deque(maxlen=max(2, options.loop_max_period * options.loop_repeats + 1))
        self._reported_loops: set[tuple[str, ...]] = set()
        self._http_reported: dict[tuple[str, str, int], float] = {}

    # ---------------------------------------------------------------------------- reporting

    def emit(
        self,
        kind: str,
        message: str,
        *,
        target: str | None,
        severity: Severity | None = None,
        attributes: dict[str, Any] | None = None,
        step: ReplayStep | None = None,
    ) -> None:
        if step is not None:  # the reporter redacts message and attributes; the step needs it too
            step = ReplayStep.model_validate(redact(step.model_dump()))
        try:
            self.reporter(COMPONENT, kind, message, target=target, severity=severity, attributes=attributes, step=step)
        except Exception:  # reporting must never break the agent
            log.exception("could not report browser event %s", kind)

    def _error_text(self, error: BaseException) -> str:
        text = str(error)
        limit = self.options.max_error_chars
        return text if len(text) <= limit else text[:limit] + " [truncated]"

    # ---------------------------------------------------------------------------- fingerprints

    async def _stored(self, url: str, selector: str) -> StoredFingerprint | None:
        try:
            return await asyncio.to_thread(self.store.get, url, selector)
        except Exception:
            log.exception("fingerprint store read failed")
            return None

    async def _capture_due(self, url: str, selector: str) -> bool:
        mode = self.options.capture
        if mode == "never" or self.fingerprinter is None:
            return False
        if mode == "always":
            return True
        key = (page_key(url), selector)
        last = self._last_capture.get(key)
        if last is None:
            stored = await self._stored(url, selector)
            if stored is None:
                return True
            last = self._last_capture[key] = stored.last_seen
        return datetime.now(UTC) - last >= timedelta(minutes=self.options.refresh_minutes)

    async def _capture(self, locator: Locator, strict: bool) -> ElementFingerprint | None:
        """Fingerprint the element right now, without waiting for it; None when it is not (only) there."""
        if self.fingerprinter is None:
            return None
        try:
            handles = await locator.element_handles()
            if not handles or (strict and len(handles) != 1):
                return None
            return await self.fingerprinter(handles[0])
        except Exception as error:  # detached, navigated, closed: no fingerprint this time
            log.debug("fingerprint capture skipped: %s", error)
            return None

    async def _record(self, url: str, selector: str, action: str, fresh: ElementFingerprint) -> None:
        if fresh.type.lower() == "password" and fresh.value:
            fresh = fresh.model_copy(update={"value": ""})  # never keep a password, even a default one
        stored = await self._stored(url, selector)
        if stored is not None:
            similarity = self.drift_scorer(stored.fingerprint, fresh)
            if similarity < self.options.drift_threshold:
                old, new = stored.fingerprint, fresh
                self.emit(
                    "fingerprint_drift",
                    f"the element behind {selector!r} changed: {old.summary()} -> {new.summary()}",
                    target=selector,
                    severity=Severity.warning,
                    attributes={
                        "url": url,
                        "action": action,
                        "frame": frame_of(selector),
                        "selector": selector,
                        "similarity": round(similarity, 3),
                        "changed_fields": changed_fields(old, new),
                        "old_summary": old.summary(),
                        "new_summary": new.summary(),
                        "stored_fingerprint": old.model_dump(),
                        "new_fingerprint": new.model_dump(),
                        "stored_last_seen": stored.last_seen.isoformat(),
                    },
                    step=ReplayStep(action=action, target=selector, url=url),
                )
        try:
            await asyncio.to_thread(self.store.put, url, selector, fresh)
        except Exception:
            log.exception("fingerprint store write failed")
            return
        self._last_capture[(page_key(url), selector)] = datetime.now(UTC)

    # ---------------------------------------------------------------------------- actions

    async def run(self, action: _Action) -> Any:
        url = self.page.url
        due = await self._capture_due(url, action.selector)
        # Capture before acting: the state the agent acted on is the one worth remembering, and a click
        # that navigates leaves nothing to capture afterwards.
        before = await self._capture(action.element(), action.strict) if due else None
        try:
            result = await action.invoke()
        except Exception as error:
            if not isinstance(error, _playwright_errors()[0]) or _closed(error):
                raise
            healed = await self._on_failure(action, url, error)
            if healed is _NOT_HEALED:
                raise
            return healed
        self.failures.pop(action.selector, None)
        if due:
            fresh = before
            if fresh is None and page_key(self.page.url) == page_key(url):
                fresh = await self._capture(action.element(), action.strict)  # it appeared while we waited
            if fresh is not None:
                await self._record(url, action.selector, action.name, fresh)
        return result

    async def _match_count(self, locator: Locator) -> int | None:
        try:
            return await locator.count()
        except Exception:
            return None

    async def _classify(self, action: _Action, error: Exception) -> tuple[str, int | None]:
        _, timeout_error = _playwright_errors()
        text = str(error)
        if "strict mode violation" in text:
            return "selector_not_found", await self._match_count(action.element())
        if isinstance(error, timeout_error):
            if action.waits_for_absence:
                return "timeout", await self._match_count(action.element())
            matched = await self._match_count(action.element())
            return ("selector_not_found" if matched == 0 else "timeout"), matched
        return "action_failed", None

    def _step(self, action: _Action, url: str, stored: StoredFingerprint | None = None) -> ReplayStep:
        args = dict(action.args)
        # What an agent types into a password or card field must not end up in an event file.
        secret_field = _SENSITIVE_TARGET.search(action.selector) or (
            stored is not None and stored.fingerprint.type.lower() == "password"
        )
        if "value" in args and action.name in ("fill", "type") and secret_field:
            args["value"] = MASK
        return ReplayStep(action=action.name, target=action.selector, url=url, args=args, expect=action.expect)

    async def _on_failure(self, action: _Action, url: str, error: Exception) -> Any:
        selector = action.selector
        kind, matched = await self._classify(action, error)
        stored = await self._stored(url, selector)
        step = self._step(action, url, stored)
        attributes: dict[str, Any] = {
            "url": url,
            "action": action.name,
            "frame": frame_of(selector),
            "selector": selector,
            "error": self._error_text(error),
        }
        if matched is not None:
            attributes["matched"] = matched
        if stored is not None:
            attributes["stored_fingerprint"] = stored.fingerprint.model_dump()
            attributes["stored_summary"] = stored.fingerprint.summary()
        heal = self.options.heal if action.heal is None else action.heal
        # Only a missing element is healed inline: an element that exists but is hidden or disabled is
        # the page's state, and acting on a look-alike instead is how silent wrong heals happen.
        if heal and self.healer is not None and kind == "selector_not_found":
            healed = await self._heal(action, stored, kind, attributes, step)
            if healed is not _NOT_HEALED:
                # The agent never saw this failure: it is reported as `selector_healed` instead.
                self.failures.pop(selector, None)
                return healed
        attempts = self.failures[selector] = self.failures.get(selector, 0) + 1
        attributes["attempts"] = attempts
        what = {
            "selector_not_found": "element not found",
            "timeout": "timed out",
            "action_failed": "failed",
        }[kind]
        self.emit(
            kind,
            f"{action.name} on {selector!r} {what}: {_first_line(str(error))}",
            target=selector,
            attributes=attributes,
            step=step,
        )
        threshold = self.options.retry_threshold
        if threshold > 0 and attempts % threshold == 0:
            self.emit(
                "persistent_retries",
                f"{selector!r} failed {attempts} times in a row ({action.name})",
                target=selector,
                attributes={**attributes, "threshold": threshold, "last_kind": kind},
                step=step,
            )
        return _NOT_HEALED

    async def _heal(
        self,
        action: _Action,
        stored: StoredFingerprint | None,
        kind: str,
        failure: dict[str, Any],
        step: ReplayStep,
    ) -> Any:
        """Ask the healer for a replacement and act on it. Reports ``selector_healed`` (with everything the
        failure event would have carried, so an issue can still be opened and patched) or, when the healed
        selector fails too, ``selector_heal_failed`` before the caller reports the original failure."""
        assert self.healer is not None
        old = action.selector
        try:
            decision = await self.healer(self.page, old, stored.fingerprint if stored else None, action.name)
        except Exception:
            log.exception("healer failed for %r", old)
            return _NOT_HEALED
        if decision is None or not decision.selector or decision.selector == old:
            return _NOT_HEALED
        new = decision.selector
        base = {
            **failure,
            "frame": frame_of(new),
            "old_selector": old,
            "new_selector": new,
            "confidence": decision.confidence,
            "method": decision.method,
            "notes": list(decision.notes),
            "failure_kind": kind,
        }
        before = await self._capture(self.page.locator(new), True)
        try:
            result = await action.retarget(new)
        except Exception as error:
            if not isinstance(error, _playwright_errors()[0]):
                raise
            self.emit(
                "selector_heal_failed",
                f"healed selector {new!r} for {old!r} did not work either: {_first_line(str(error))}",
                target=old,
                severity=Severity.warning,
                attributes={**base, "heal_error": self._error_text(error)},
                step=step,
            )
            await self._confirm(old, decision, False, failure["url"])
            return _NOT_HEALED
        self.emit(
            "selector_healed",
            f"{action.name} on {old!r} healed with {new!r} ({decision.method or 'healer'}, "
            f"confidence {decision.confidence:.2f})",
            target=old,
            severity=Severity.info,
            attributes=base,
            step=step,
        )
        if before is not None:
            await self._record(failure["url"], new, action.name, before)
        await self._confirm(old, decision, True, failure["url"])
        return result

    async def _confirm(self, old: str, decision: HealDecision, succeeded: bool, url: str) -> None:
        """Tell a healer that has a ``confirm`` method whether acting on its selector worked: the agent's
        own action is the most honest retest there is. ``url`` is where the failure happened (the action
        may have navigated away since). A failing hook never breaks the agent."""
        confirm = getattr(self.healer, "confirm", None)
        if confirm is None:
            return
        try:
            await confirm(old, decision, succeeded, url)
        except Exception:
            log.exception("healer confirmation failed for %r", old)

    # ---------------------------------------------------------------------------- navigation

    async def goto(self, url: str, expect: dict[str, Any] | None, **options: Any) -> Response | None:
        try:
            return await self.page.goto(url, **options)
        except Exception as error:
            error_type, timeout_error = _playwright_errors()
            if not isinstance(error, error_type) or _closed(error):
                raise
            kind = "timeout" if isinstance(error, timeout_error) else "navigation_error"
            target = _strip_query(url)
            self.emit(
                kind,
                f"goto {target} failed: {_first_line(str(error))}",
                target=target,
                attributes={
                    "url": self.page.url,
                    "action": "goto",
                    "frame": "",
                    "selector": None,
                    "error": self._error_text(error),
                    "attempts": 1,
                },
                step=ReplayStep(action="goto", target=url, url=url, expect=expect),
            )
            raise

    def on_frame_navigated(self, frame: Frame) -> None:
        try:
            self._frame_navigated(frame)
        except Exception:  # a listener must never raise into Playwright's event dispatch
            log.exception("navigation tracking failed")

    def _frame_navigated(self, frame: Frame) -> None:
        if frame.parent_frame is not None:
            return
        url = _without_fragment(frame.url)
        if self._navigations and self._navigations[-1] == url:
            return  # same-document changes and reloads are not steps of a cycle
        self._navigations.append(url)
        cycle = self._find_cycle()
        if cycle is None:
            # Leaving the cycle re-arms detection, so a loop that comes back later is reported again.
            self._reported_loops = {c for c in self._reported_loops if url in c}
            return
        canonical = min(cycle[i:] + cycle[:i] for i in range(len(cycle)))
        if canonical in self._reported_loops:
            return
        self._reported_loops.add(canonical)
        keys = [page_key(u) for u in canonical]
        target = " -> ".join(keys + keys[:1])
        self.emit(
            "navigation_loop",
            f"navigation keeps cycling: {target} (repeated {self.options.loop_repeats} times)",
            target=target,
            severity=Severity.error,
            attributes={
                "url": _strip_query(url),
                "action": "navigate",
                "frame": "",
                "cycle": keys,
                "repeats": self.options.loop_repeats,
                "history": [_strip_query(u) for u in self._navigations],
            },
            step=ReplayStep(action="goto", target=canonical[0], url=canonical[0]),
        )

    def _find_cycle(self) -> tuple[str, ...] | None:
        history = list(self._navigations)
        repeats = max(2, self.options.loop_repeats)
        for period in range(2, self.options.loop_max_period + 1):
            span = period * repeats
            if len(history) < span:
                break
            tail = history[-span:]
            if all(tail[i] == tail[i - period] for i in range(period, span)) and len(set(tail[:period])) == period:
                return tuple(tail[-period:])
        return None

    def on_response(self, response: Response) -> None:
        try:
            self._response(response)
        except Exception:
            log.exception("response tracking failed")

    def _response(self, response: Response) -> None:
        status = response.status
        if not self.options.http_errors or status < self.options.http_min_status:
            return
        request = response.request
        method = request.method.upper()
        request_url = _strip_query(request.url)
        path = re.sub(r"^[a-z][a-z0-9+.-]*://[^/]*", "", request_url, flags=re.IGNORECASE) or "/"
        key = (method, request_url, status)
        now = time.monotonic()
        last = self._http_reported.get(key)
        if last is not None and now - last < self.options.http_dedupe_seconds:
            return
        self._http_reported[key] = now
        page_url = self.page.url
        target = f"{method} {path}"
        self.emit(
            "http_error",
            f"{method} {request_url} answered {status} {response.status_text}".rstrip(),
            target=target,
            severity=Severity.error if status >= 500 else Severity.warning,
            attributes={
                "url": _strip_query(page_url),
                "request_url": request_url,
                "method": method,
                "status": status,
                "status_text": response.status_text,
                "resource_type": request.resource_type,
                "frame": "" if response.frame.parent_frame is None else _strip_query(response.frame.url),
            },
            step=ReplayStep(
                action="http_check",
                target=target,
                url=page_url,
                args={"method": method, "path": path, "status": status},
            ),
        )


# ------------------------------------------------------------------------------------------ wrappers


def _unwrap(value: Any) -> Any:
    return value.raw if isinstance(value, InstrumentedLocator | InstrumentedFrameLocator) else value


def _unwrap_all(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return tuple(_unwrap(a) for a in args), {k: _unwrap(v) for k, v in kwargs.items()}


def _pop_hooks(kwargs: dict[str, Any]) -> tuple[bool | None, dict[str, Any] | None]:
    heal = kwargs.pop("heal", None)
    expect = kwargs.pop("expect", None)
    return (None if heal is None else bool(heal)), expect


def _select_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    picked = {k: kwargs[k] for k in ("value", "label", "index") if kwargs.get(k) is not None}
    if args:
        picked["value"] = args[0]
    return picked


class _Finders:
    """The locator-building calls shared by pages, locators and frame locators."""

    _session: _Session

    def _source(self) -> Any:
        raise NotImplementedError

    def _wrap(self, locator: Locator) -> InstrumentedLocator:
        return InstrumentedLocator(self._session, locator)

    def locator(self, selector_or_locator: Any, **kwargs: Any) -> InstrumentedLocator:
        (target,), kw = _unwrap_all((selector_or_locator,), kwargs)
        return self._wrap(self._source().locator(target, **kw))

    def get_by_role(self, role: Any, **kwargs: Any) -> InstrumentedLocator:
        return self._wrap(self._source().get_by_role(role, **kwargs))

    def get_by_text(self, text: Any, **kwargs: Any) -> InstrumentedLocator:
        return self._wrap(self._source().get_by_text(text, **kwargs))

    def get_by_label(self, text: Any, **kwargs: Any) -> InstrumentedLocator:
        return self._wrap(self._source().get_by_label(text, **kwargs))

    def get_by_placeholder(self, text: Any, **kwargs: Any) -> InstrumentedLocator:
        return self._wrap(self._source().get_by_placeholder(text, **kwargs))

    def get_by_test_id(self, test_id: Any) -> InstrumentedLocator:
        return self._wrap(self._source().get_by_test_id(test_id))

    def get_by_alt_text(self, text: Any, **kwargs: Any) -> InstrumentedLocator:
        return self._wrap(self._source().get_by_alt_text(text, **kwargs))

    def get_by_title(self, text: Any, **kwargs: Any) -> InstrumentedLocator:
        return self._wrap(self._source().get_by_title(text, **kwargs))

    def frame_locator(self, selector: str) -> InstrumentedFrameLocator:
        return InstrumentedFrameLocator(self._session, self._source().frame_locator(selector))


class InstrumentedPage(_Finders):
    """A Playwright ``Page`` that reports failures and remembers elements. See :func:`instrument`."""

    def __init__(self, page: Page, session: _Session) -> None:
        self._page = page
        self._session = session

    @property
    def raw(self) -> Page:
        return self._page

    @property
    def failures(self) -> dict[str, int]:
        """Consecutive failures per selector in this session."""
        return dict(self._session.failures)

    def _source(self) -> Page:
        return self._page

    def detach(self) -> Page:
        """Stop watching navigations and responses; returns the plain page."""
        self._page.remove_listener("framenavigated", self._session.on_frame_navigated)
        self._page.remove_listener("response", self._session.on_response)
        return self._page

    def __getattr__(self, name: str) -> Any:
        return getattr(self._page, name)

    def __repr__(self) -> str:
        return f"<InstrumentedPage {self._page!r}>"

    async def goto(self, url: str, **kwargs: Any) -> Response | None:
        _, expect = _pop_hooks(kwargs)
        return await self._session.goto(url, expect, **kwargs)

    async def _act(
        self,
        name: str,
        method: str,
        selector: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        step_args: dict[str, Any] | None = None,
        waits_for_absence: bool = False,
    ) -> Any:
        heal, expect = _pop_hooks(kwargs)
        page = self._page
        # Locator methods are strict and take no 'strict' flag; the healed call goes through a locator.
        retarget_kwargs = {k: v for k, v in kwargs.items() if k != "strict"}

        def retarget(new: str) -> Awaitable[Any]:
            if method == "wait_for_selector":
                return page.wait_for_selector(new, *args, **kwargs)
            return getattr(page.locator(new), method)(*args, **retarget_kwargs)  # type: ignore[no-any-return]

        return await self._session.run(
            _Action(
                name=name,
                selector=selector,
                element=lambda: page.locator(selector),
                invoke=lambda: getattr(page, method)(selector, *args, **kwargs),
                retarget=retarget,
                strict=bool(kwargs.get("strict", False)),
                args=step_args or {},
                expect=expect,
                heal=heal,
                waits_for_absence=waits_for_absence,
            )
        )

    async def click(self, selector: str, **kwargs: Any) -> None:
        await self._act("click", "click", selector, (), kwargs)

    async def dblclick(self, selector: str, **kwargs: Any) -> None:
        await self._act("dblclick", "dblclick", selector, (), kwargs)

    async def fill(self, selector: str, value: str, **kwargs: Any) -> None:
        await self._act("fill", "fill", selector, (value,), kwargs, step_args={"value": value})

    async def press(self, selector: str, key: str, **kwargs: Any) -> None:
        await self._act("press", "press", selector, (key,), kwargs, step_args={"key": key})

    async def check(self, selector: str, **kwargs: Any) -> None:
        await self._act("check", "check", selector, (), kwargs)

    async def uncheck(self, selector: str, **kwargs: Any) -> None:
        await self._act("uncheck", "uncheck", selector, (), kwargs)

    async def select_option(self, selector: str, *args: Any, **kwargs: Any) -> list[str]:
        step_args = _select_args(args, kwargs)
        result: list[str] = await self._act(
            "select_option", "select_option", selector, args, kwargs, step_args=step_args
        )
        return result

    async def hover(self, selector: str, **kwargs: Any) -> None:
        await self._act("hover", "hover", selector, (), kwargs)

    async def wait_for_selector(self, selector: str, **kwargs: Any) -> ElementHandle | None:
        state = kwargs.get("state") or "visible"
        result: ElementHandle | None = await self._act(
            "wait_for",
            "wait_for_selector",
            selector,
            (),
            kwargs,
            step_args={"state": state},
            waits_for_absence=state in ("hidden", "detached"),
        )
        return result

    async def text_content(self, selector: str, **kwargs: Any) -> str | None:
        result: str | None = await self._act("text", "text_content", selector, (), kwargs)
        return result

    async def inner_text(self, selector: str, **kwargs: Any) -> str:
        result: str = await self._act("text", "inner_text", selector, (), kwargs)
        return result


class InstrumentedLocator(_Finders):
    """A Playwright ``Locator`` whose actions are reported and fingerprinted."""

    def __init__(self, session: _Session, locator: Locator) -> None:
        self._session = session
        self._locator = locator

    @property
    def raw(self) -> Locator:
        return self._locator

    @property
    def selector(self) -> str:
        """The page-level selector, including the frame chain for elements in iframes."""
        return selector_of(self._locator)

    def _source(self) -> Locator:
        return self._locator

    def __getattr__(self, name: str) -> Any:
        return getattr(self._locator, name)

    def __repr__(self) -> str:
        return f"<InstrumentedLocator {self.selector!r}>"

    # ---------------------------------------------------------------- chaining

    @property
    def first(self) -> InstrumentedLocator:
        return self._wrap(self._locator.first)

    @property
    def last(self) -> InstrumentedLocator:
        return self._wrap(self._locator.last)

    def nth(self, index: int) -> InstrumentedLocator:
        return self._wrap(self._locator.nth(index))

    def filter(self, **kwargs: Any) -> InstrumentedLocator:
        _, kw = _unwrap_all((), kwargs)
        return self._wrap(self._locator.filter(**kw))

    def and_(self, other: Any) -> InstrumentedLocator:
        return self._wrap(self._locator.and_(_unwrap(other)))

    def or_(self, other: Any) -> InstrumentedLocator:
        return self._wrap(self._locator.or_(_unwrap(other)))

    @property
    def content_frame(self) -> InstrumentedFrameLocator:
        return InstrumentedFrameLocator(self._session, self._locator.content_frame)

    async def all(self) -> list[InstrumentedLocator]:
        return [self._wrap(item) for item in await self._locator.all()]

    # ---------------------------------------------------------------- actions

    async def _act(
        self,
        name: str,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        step_args: dict[str, Any] | None = None,
        waits_for_absence: bool = False,
    ) -> Any:
        heal, expect = _pop_hooks(kwargs)
        locator = self._locator
        page = self._session.page

        def retarget(new: str) -> Awaitable[Any]:
            return getattr(page.locator(new), method)(*args, **kwargs)  # type: ignore[no-any-return]

        return await self._session.run(
            _Action(
                name=name,
                selector=self.selector,
                element=lambda: locator,
                invoke=lambda: getattr(locator, method)(*args, **kwargs),
                retarget=retarget,
                strict=True,
                args=step_args or {},
                expect=expect,
                heal=heal,
                waits_for_absence=waits_for_absence,
            )
        )

    async def click(self, **kwargs: Any) -> None:
        await self._act("click", "click", (), kwargs)

    async def dblclick(self, **kwargs: Any) -> None:
        await self._act("dblclick", "dblclick", (), kwargs)

    async def fill(self, value: str, **kwargs: Any) -> None:
        await self._act("fill", "fill", (value,), kwargs, step_args={"value": value})

    async def press(self, key: str, **kwargs: Any) -> None:
        await self._act("press", "press", (key,), kwargs, step_args={"key": key})

    async def check(self, **kwargs: Any) -> None:
        await self._act("check", "check", (), kwargs)

    async def uncheck(self, **kwargs: Any) -> None:
        await self._act("uncheck", "uncheck", (), kwargs)

    async def select_option(self, *args: Any, **kwargs: Any) -> list[str]:
        result: list[str] = await self._act(
            "select_option", "select_option", args, kwargs, step_args=_select_args(args, kwargs)
        )
        return result

    async def hover(self, **kwargs: Any) -> None:
        await self._act("hover", "hover", (), kwargs)

    async def wait_for(self, **kwargs: Any) -> None:
        state = kwargs.get("state") or "visible"
        await self._act(
            "wait_for",
            "wait_for",
            (),
            kwargs,
            step_args={"state": state},
            waits_for_absence=state in ("hidden", "detached"),
        )

    async def text_content(self, **kwargs: Any) -> str | None:
        result: str | None = await self._act("text", "text_content", (), kwargs)
        return result

    async def inner_text(self, **kwargs: Any) -> str:
        result: str = await self._act("text", "inner_text", (), kwargs)
        return result

    async def input_value(self, **kwargs: Any) -> str:
        result: str = await self._act("input_value", "input_value", (), kwargs)
        return result

    async def get_attribute(self, name: str, **kwargs: Any) -> str | None:
        result: str | None = await self._act(
            "get_attribute", "get_attribute", (name,), kwargs, step_args={"name": name}
        )
        return result


class InstrumentedFrameLocator(_Finders):
    """A Playwright ``FrameLocator`` that hands out instrumented locators."""

    def __init__(self, session: _Session, frame_locator: FrameLocator) -> None:
        self._session = session
        self._frame_locator = frame_locator

    @property
    def raw(self) -> FrameLocator:
        return self._frame_locator

    def _source(self) -> FrameLocator:
        return self._frame_locator

    def __getattr__(self, name: str) -> Any:
        return getattr(self._frame_locator, name)

    def __repr__(self) -> str:
        return f"<InstrumentedFrameLocator {selector_of(self._frame_locator)!r}>"

    @property
    def first(self) -> InstrumentedFrameLocator:
        return InstrumentedFrameLocator(self._session, self._frame_locator.first)

    @property
    def last(self) -> InstrumentedFrameLocator:
        return InstrumentedFrameLocator(self._session, self._frame_locator.last)

    def nth(self, index: int) -> InstrumentedFrameLocator:
        return InstrumentedFrameLocator(self._session, self._frame_locator.nth(index))

    @property
    def owner(self) -> InstrumentedLocator:
        return self._wrap(self._frame_locator.owner)


# ------------------------------------------------------------------------------------------ healers


async def similarity_healer(
    page: Page, selector: str, stored: ElementFingerprint | None, action: str
) -> HealDecision | None:
    """A :data:`Healer` that uses no memory: re-find the element by similarity and build a selector.

    Captures every candidate of the page, lets the matcher pick the one the stored fingerprint (or the
    failed selector) describes, and returns the most resilient unique selector for it. Returns None when
    the matcher refuses (no candidate is clearly the element) or no unique selector exists.
    """
    from healing_mcp.components.browser.capture import candidate_handle, capture_candidates
    from healing_mcp.components.browser.matching import match_element
    from healing_mcp.components.browser.selectors import build_selector

    candidates = await capture_candidates(page)
    result = match_element(stored, [c.fingerprint for c in candidates], failed_selector=selector)
    if not result.healed or result.index is None:
        return None
    chosen = candidates[result.index]
    handle = await candidate_handle(page, chosen)
    choice = await build_selector(page, handle, chosen.fingerprint)
    if not choice.unique:
        return None
    return HealDecision(
        selector=choice.selector,
        confidence=result.confidence,
        method=f"similarity match, {choice.strategy} selector",
        notes=[result.reason, f"matched {chosen.fingerprint.summary()}"],
    )


# ------------------------------------------------------------------------------------------ entry point


def instrument(
    page: Page,
    *,
    reporter: EventReporter | None = None,
    store: FingerprintStore | None = None,
    healer: Healer | None = None,
    fingerprinter: Fingerprinter | None = None,
    drift_scorer: DriftScorer | None = None,
    options: InstrumentOptions | None = None,
    **overrides: Any,
) -> InstrumentedPage:
    """Wrap ``page`` so failures are reported and working elements are remembered.

    ``reporter`` defaults to an :class:`EventReporter` on ``HEALING_EVENTS_DIR`` / ``<HEALING_HOME>/events``;
    ``store`` to the fingerprint database under ``HEALING_HOME``. ``healer`` enables inline healing (with
    ``heal=True`` here or per call); ``fingerprinter`` defaults to the capture module's
    ``capture_fingerprint``. Any :class:`InstrumentOptions` field can be passed as a keyword, e.g.
    ``instrument(page, heal=True, retry_threshold=5, capture="always")``.

    Instrumenting an already instrumented page returns it unchanged.
    """
    if isinstance(page, InstrumentedPage):
        return page
    resolved = options or InstrumentOptions()
    if overrides:
        unknown = set(overrides) - set(InstrumentOptions.__dataclass_fields__)
        if unknown:
            raise TypeError(f"instrument() got unknown option(s): {', '.join(sorted(unknown))}")
        resolved = InstrumentOptions(**{**resolved.__dict__, **overrides})
    session = _Session(
        page=page,
        reporter=reporter or EventReporter(),
        store=store or FingerprintStore(),
        options=resolved,
        healer=healer,
        fingerprinter=fingerprinter if fingerprinter is not None else _default_fingerprinter(),
        drift_scorer=drift_scorer or fingerprint_similarity,
    )
    page.on("framenavigated", session.on_frame_navigated)
    page.on("response", session.on_response)
    return InstrumentedPage(page, session)
