"""The one-line hook for browser agents: ``page = instrument(page)``.

:func:`instrument` wraps an async Playwright ``Page`` in an :class:`InstrumentedPage` that behaves like
the page for the calls agents make and hands out wrapped locators. Every action on an element goes
through one mechanism (the verb table :data:`VERBS`): ``click``, ``dblclick``, ``tap``, ``press``,
``fill``, ``type``, ``press_sequentially``, ``clear``, ``check``, ``uncheck``, ``set_checked``,
``select_option``, ``set_input_files``, ``hover``, ``focus``, ``blur``, ``scroll_into_view_if_needed``,
the waits (``wait_for``, ``wait_for_selector``) and the reads (``text_content``, ``inner_text``,
``inner_html``, ``input_value``, ``get_attribute``), on the page and on locators built with ``locator``,
``get_by_*``, ``frame_locator``, ``content_frame``, ``filter``, ``nth``... Assertions go through
:func:`expect` (Playwright's ``expect``, for wrapped locators and pages). ``goto`` and ``wait_for_url``
are watched too; everything else passes straight through to the page. The wrapper:

- remembers the element behind each selector that works (a fingerprint in :class:`FingerprintStore`)
  and what the action did (the URL it led to; for a disclosure, whether it opened), so a later failure
  can be healed by similarity and the replacement checked against the original's effect;
- reports failures as events (component ``"browser"``) with a replayable step: ``selector_not_found``,
  ``timeout``, ``action_failed``, ``assertion_failed``, ``navigation_error``, ``navigation_loop``,
  ``http_error``, ``fingerprint_drift`` and ``persistent_retries``. Each carries where the agent's code
  built the selector (file and line of every ``locator``/``get_by_*``/``frame_locator`` call of the
  chain), so a source patch changes exactly the broken literal;
- re-raises the original Playwright error, so the agent's own error handling is unchanged, unless
  inline healing is switched on and an injected healer finds the element again (``selector_healed``).

Inline healing does not wait for the action's full timeout: when the target still matches nothing
after ``heal_after_ms`` (2 s by default, never longer than the action's own timeout) the healer is asked
right away; an element that exists but is not actionable yet is waited for as usual. A healed action
counts as proven only when it succeeded and its post-condition held: the agent's ``expect=``, the
recorded effect of the original (the URL it led to, the menu or panel it opened), the value a ``fill``
typed, the state a ``check`` set.

Fingerprint cost, and why ``capture="always"`` is the default: capturing the target of an action is one
extra round trip to the browser (``evaluate_all`` of the capture script: no element handle, no frame
lookup for elements of the main frame) and, only when the element changed, one SQLite upsert. Measured
over 300 alternating ``fill`` / ``click`` actions on a 1,900-element admin page (a 200-row table, a menu,
a form), Chromium on a shared two-core machine under load: a median of 12 ms per action (p90 30 ms),
where the action itself took 45 ms; the handle-based capture this replaces took 23 ms. That buys drift
detection ("the DOM changed under a known element") on the first run after a release instead of up to
half an hour later. ``"first"`` (once per page and selector, refreshed after ``refresh_minutes``) and
``"never"`` remain for agents that count every millisecond. A capture of the whole page (every candidate)
happens only when a selector fails and a heal is attempted.

Example::

    from healing_mcp.components.browser.wrapper import expect, instrument
    from healing_mcp.events import EventReporter

    page = instrument(await browser.new_page(), reporter=EventReporter(stream="shop-agent"))
    await page.goto("https://shop.example/cart")
    await page.get_by_role("button", name="Checkout").click()
    await expect(page.get_by_role("heading", name="Payment")).to_be_visible()

Use ``wrapped.raw`` where Playwright insists on its own objects.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import os
import re
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from healing_mcp.components.browser.fingerprint import ElementFingerprint
from healing_mcp.components.browser.fingerprint_store import (
    FingerprintStore,
    StoredFingerprint,
    origin_of,
    page_key,
)
from healing_mcp.events import EventReporter
from healing_mcp.models import ReplayStep, Severity
from healing_mcp.redact import MASK, redact

if TYPE_CHECKING:
    from playwright.async_api import Frame, FrameLocator, Locator, Page, Response

__all__ = [
    "VERBS",
    "CaptureMode",
    "DriftScorer",
    "Fingerprinter",
    "HealDecision",
    "Healer",
    "InstrumentOptions",
    "InstrumentedFrameLocator",
    "InstrumentedLocator",
    "InstrumentedPage",
    "SourceSite",
    "expect",
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

Fingerprinter = Callable[["Locator", bool], Awaitable[ElementFingerprint | None]]
"""``async fingerprinter(locator, strict) -> fingerprint``: what the locator matches right now, without
waiting; None when it matches nothing (or, when ``strict``, several elements)."""
DriftScorer = Callable[[ElementFingerprint, ElementFingerprint], float]
"""Similarity of a stored and a fresh fingerprint of the same element, 0 (unrelated) to 1 (identical)."""


@dataclass
class InstrumentOptions:
    """Tuning of :func:`instrument`. Every field is also a keyword argument of :func:`instrument`."""

    heal: bool = False
    """Try the healer on every action; per call, ``heal=True/False`` overrides."""
    heal_after_ms: float = 2_000.0
    """With healing on: heal once the target still matches nothing after this long, instead of after the
    action's full timeout (0 waits for the timeout)."""
    verify_timeout_ms: float = 5_000.0
    """How long a healed action's post-condition (e.g. the URL the original click led to) may take."""
    capture: CaptureMode = "always"
    """When to fingerprint the element of a successful action: ``always`` (the default; its cost is in the
    module docstring); ``first`` (once per page and selector, again when the record is older than
    ``refresh_minutes``); ``never``."""
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
    storage_state: str | Path | None = None
    """The Playwright storage state file (cookies, local storage of a signed-in user) this page's context
    was created from. Its path (never its content) is recorded with failures, so fix attempts and retests
    can open the page signed in too."""


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
        from healing_mcp.components.browser.capture import capture_target
    except ImportError:  # capture support not installed: run without fingerprints
        log.warning("element capture is unavailable; fingerprints will not be recorded")
        return None

    async def fingerprint(locator: Locator, strict: bool) -> ElementFingerprint | None:
        return await capture_target(locator, strict=strict)

    return fingerprint


def _playwright_errors() -> tuple[type[Exception], type[Exception]]:
    from playwright.async_api import Error, TimeoutError

    return Error, TimeoutError


def _closed(error: BaseException) -> bool:
    """The agent closed the page or browser under a pending call: its own doing, not a failure."""
    return type(error).__name__ == "TargetClosedError" or "has been closed" in str(error)


# ------------------------------------------------------------------------------------------ verbs


@dataclass(frozen=True)
class _Verb:
    """How one Playwright element method is reported and replayed."""

    step: str
    """The action name of the replayable step (what the retester replays)."""
    params: tuple[str, ...] = ()
    """Its positional arguments (after the selector), by the name the step records them under."""
    kind: Literal["acts", "observes", "other"] = "other"
    """``acts``: it may lead somewhere (its effect, the URL it led to, is recorded); ``observes``: it
    waits for or reads the page (the previous action's effect is settled after it)."""


VERBS: dict[str, _Verb] = {
    "click": _Verb("click", kind="acts"),
    "dblclick": _Verb("dblclick", kind="acts"),
    "tap": _Verb("tap", kind="acts"),
    "press": _Verb("press", ("key",), kind="acts"),
    "fill": _Verb("fill", ("value",)),
    "type": _Verb("type", ("value",)),
    "press_sequentially": _Verb("press_sequentially", ("value",)),
    "clear": _Verb("clear"),
    "check": _Verb("check"),
    "uncheck": _Verb("uncheck"),
    "set_checked": _Verb("set_checked", ("checked",)),
    "select_option": _Verb("select_option"),
    "set_input_files": _Verb("set_input_files", ("files",)),
    "hover": _Verb("hover"),
    "focus": _Verb("focus"),
    "blur": _Verb("blur"),
    "scroll_into_view_if_needed": _Verb("scroll_into_view_if_needed"),
    "wait_for": _Verb("wait_for", kind="observes"),
    "wait_for_selector": _Verb("wait_for", kind="observes"),
    "text_content": _Verb("text", kind="observes"),
    "inner_text": _Verb("text", kind="observes"),
    "inner_html": _Verb("text", kind="observes"),
    "input_value": _Verb("input_value", kind="observes"),
    "get_attribute": _Verb("get_attribute", ("name",), kind="observes"),
}
"""Every element method the wrapper reports, fingerprints and heals, by Playwright method name."""

_EXPECT = _Verb("expect", kind="observes")
_ABSENT_STATES = ("hidden", "detached")


def _file_names(files: Any) -> list[str]:
    """What a file upload is recorded as: file names only, never paths' directories or contents."""
    items = files if isinstance(files, list | tuple) else [files]
    names = []
    for item in items:
        name = item.get("name") if isinstance(item, dict) else Path(str(item)).name
        names.append(str(name or ""))
    return names


def _select_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    picked = {k: kwargs[k] for k in ("value", "label", "index") if kwargs.get(k) is not None}
    if args:
        picked["value"] = args[0]
    return picked


# Where Playwright's keyword name differs from the name the step records the argument under.
_KEYWORDS = {("type", "value"): "text", ("press_sequentially", "value"): "text"}


def _step_args(method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    if method == "select_option":
        return _select_args(args, kwargs)
    if method in ("wait_for", "wait_for_selector"):
        return {"state": kwargs.get("state") or "visible"}
    verb = VERBS[method]
    recorded = dict(zip(verb.params, args, strict=False))
    for name in verb.params[len(args) :]:  # passed by keyword instead
        keyword = _KEYWORDS.get((method, name), name)
        if keyword in kwargs:
            recorded[name] = kwargs[keyword]
    if "files" in recorded:
        recorded["files"] = _file_names(recorded["files"])
    return recorded


def _absent(method: str, kwargs: dict[str, Any]) -> bool:
    """Calls that may succeed by the element going away: never healed, never probed early."""
    return method in ("wait_for", "wait_for_selector") and kwargs.get("state") in _ABSENT_STATES


# Assertions that pass when the element is missing, or count elements: a missing element is no broken
# selector for them.
def _absent_assertion(name: str) -> bool:
    return name.startswith("not_to_") or name in ("to_be_hidden", "to_have_count", "to_be_detached")


def _json_value(value: Any) -> Any:
    """An assertion argument as JSON (regular expressions as ``{"regex", "flags"}``); raises ValueError
    for what cannot be recorded."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, re.Pattern):
        return {"regex": value.pattern, "flags": int(value.flags)}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    raise ValueError(f"cannot record an argument of type {type(value).__name__}")


def _assertion_args(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    recorded: dict[str, Any] = {"assertion": name}
    try:
        recorded["args"] = [_json_value(a) for a in args]
        recorded["kwargs"] = {k: _json_value(v) for k, v in kwargs.items() if k not in ("timeout",)}
    except ValueError as error:
        recorded["unrecorded"] = str(error)
    return recorded


# ------------------------------------------------------------------------------------------ call sites


@dataclass(frozen=True)
class SourceSite:
    """One call of a locator chain in the agent's code: which API, what it added to the selector, where."""

    api: str
    """``locator``, ``get_by_role``..., ``frame_locator``, ``content_frame``, ``nth``, ``filter``..., or
    the page method (``click``...) that took the selector directly."""
    part: str
    """The piece of the page-level selector this call added (e.g. ``#buy`` or ``internal:role=...``)."""
    file: str
    line: int

    def as_dict(self) -> dict[str, Any]:
        return {"api": self.api, "part": self.part, "file": self.file, "line": self.line}


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _caller() -> tuple[str, int]:
    """Where the agent's code called into the wrapper: the first frame outside this package. Costs a
    few attribute reads, so it is done for every call."""
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    return frame.f_code.co_filename, frame.f_lineno


def _site(api: str, part: str, where: tuple[str, int]) -> SourceSite:
    return SourceSite(api=api, part=part, file=where[0], line=where[1])


def _added_part(parent: str, child: str, frame_parent: bool) -> str:
    """What a chained call added to ``parent``'s selector to make ``child``'s."""
    if not parent:
        return child
    joint = ENTER_FRAME if frame_parent else " >> "
    if child.startswith(parent + joint):
        return child[len(parent) + len(joint) :]
    return "" if child == parent else child


_LOCATING_APIS = frozenset(
    {
        "locator",
        "get_by_role",
        "get_by_text",
        "get_by_label",
        "get_by_placeholder",
        "get_by_test_id",
        "get_by_alt_text",
        "get_by_title",
        *VERBS,
    }
)


def leaf_site(sources: Iterable[SourceSite]) -> SourceSite | None:
    """The call that names the element itself (the last ``locator``/``get_by_*``/page method)."""
    leaf = None
    for site in sources:
        if site.api in _LOCATING_APIS:
            leaf = site
    return leaf


# ------------------------------------------------------------------------------------------ session


@dataclass
class _Action:
    """One agent call, described well enough to report it, fingerprint its element and heal it."""

    name: str
    selector: str
    element: Callable[[], Locator]
    invoke: Callable[[], Awaitable[Any]]
    retarget: Callable[[str], Awaitable[Any]]
    verb: _Verb
    strict: bool = True
    args: dict[str, Any] = field(default_factory=dict)
    expect: dict[str, Any] | None = None
    heal: bool | None = None
    waits_for_absence: bool = False
    assertion: bool = False
    sources: tuple[SourceSite, ...] = ()
    call_site: tuple[str, int] | None = None
    heal_tried: bool = False


@dataclass
class _Failure:
    kind: str
    attributes: dict[str, Any]
    step: ReplayStep
    stored: StoredFingerprint | None


@dataclass
class _Healed:
    value: Any


@dataclass
class _HealFailed:
    acted: bool
    why: str


class _Unhealed(Exception):
    """Raised inside the wrapper when an early heal failed and its failure is already reported."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass
class _PendingEffect:
    url: str
    selector: str
    action: str
    disclosure: Locator | None = None
    """The element, when it is a disclosure (``aria-expanded``, a ``<details>`` summary): whether it
    opened something is part of the effect."""


# Whether a disclosure element is open: its aria-expanded, or the <details> it summarises.
OPENED_JS = """(el) => el.getAttribute("aria-expanded") === "true"
  || (el.localName === "summary" && !!el.parentElement && el.parentElement.open === true)"""


def _is_disclosure(fingerprint: ElementFingerprint | None) -> bool:
    return fingerprint is not None and ("aria-expanded" in fingerprint.attributes or fingerprint.tag == "summary")


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
        # (page key, selector) -> the fingerprint last written (by anyone) and when, or None when there is
        # none: decides whether a capture is due and whether it needs writing, without a read per call.
        self._known: dict[tuple[str, str], tuple[ElementFingerprint, datetime] | None] = {}
        self._effects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._pending: _PendingEffect | None = None
        self._origins: set[str] = set()
        self._navigations: deque[str] = deque(maxlen=max(2, options.loop_max_period * options.loop_repeats + 1))
        self._reported_loops: set[tuple[str, ...]] = set()
        self._http_reported: dict[tuple[str, str, int], float] = {}
        state = options.storage_state
        self._storage_state = str(Path(state).resolve()) if state else None

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

    async def _in_thread(self, what: str, call: Callable[[], T]) -> T | None:
        """A fingerprint store call off the event loop; a failing store never breaks the agent."""
        try:
            return await asyncio.to_thread(call)
        except Exception:
            log.exception("fingerprint store %s failed", what)
            return None

    # ---------------------------------------------------------------------------- fingerprints

    async def _stored(self, url: str, selector: str) -> StoredFingerprint | None:
        return await self._in_thread("read", lambda: self.store.get(url, selector))

    async def _known_fingerprint(self, url: str, selector: str) -> tuple[ElementFingerprint, datetime] | None:
        key = (page_key(url), selector)
        if key not in self._known:
            stored = await self._stored(url, selector)
            self._known[key] = (stored.fingerprint, stored.last_seen) if stored else None
        return self._known[key]

    async def _capture_due(self, url: str, selector: str) -> bool:
        mode = self.options.capture
        if mode == "never" or self.fingerprinter is None:
            return False
        if mode == "always":
            return True
        known = await self._known_fingerprint(url, selector)
        return known is None or datetime.now(UTC) - known[1] >= timedelta(minutes=self.options.refresh_minutes)

    async def _capture(self, locator: Locator, strict: bool) -> ElementFingerprint | None:
        """Fingerprint the element right now, without waiting for it; None when it is not (only) there."""
        if self.fingerprinter is None:
            return None
        try:
            return await self.fingerprinter(locator, strict)
        except Exception as error:  # detached, navigated, closed: no fingerprint this time
            log.debug("fingerprint capture skipped: %s", error)
            return None

    async def _record(self, url: str, selector: str, action: str, fresh: ElementFingerprint) -> None:
        """Compare with what is known (drift) and write when the element changed or the record is old."""
        if fresh.type.lower() == "password" and fresh.value:
            fresh = fresh.model_copy(update={"value": ""})  # never keep a password, even a default one
        known = await self._known_fingerprint(url, selector)
        now = datetime.now(UTC)
        if known is not None:
            old, written = known
            similarity = self.drift_scorer(old, fresh)
            if similarity < self.options.drift_threshold:
                self._report_drift(url, selector, action, old, fresh, similarity, written)
            fresh_enough = now - written < timedelta(minutes=self.options.refresh_minutes)
            if fresh_enough and not changed_fields(old, fresh):
                return  # nothing new to remember
        if await self._in_thread("write", lambda: self.store.put(url, selector, fresh)) is not None:
            self._known[(page_key(url), selector)] = (fresh, now)

    def _report_drift(
        self,
        url: str,
        selector: str,
        action: str,
        old: ElementFingerprint,
        new: ElementFingerprint,
        similarity: float,
        last_seen: datetime,
    ) -> None:
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
                "stored_last_seen": last_seen.isoformat(),
            },
            step=ReplayStep(action=action, target=selector, url=url),
        )

    # ---------------------------------------------------------------------------- effects, origins

    async def settle_effect(self) -> None:
        """Record where the last acting call (a click...) led, now that the agent moved on or waited."""
        pending, self._pending = self._pending, None
        if pending is None or self.page.is_closed():
            return
        effect: dict[str, Any] = {"url": page_key(self.page.url)}
        if pending.disclosure is not None and effect["url"] == page_key(pending.url):
            try:  # without waiting: an element that went away opened nothing we can tell
                opened = await pending.disclosure.evaluate_all(
                    f"(els) => els.length === 1 ? ({OPENED_JS})(els[0]) : null"
                )
            except Exception:
                opened = None
            if opened is not None:
                effect["opened"] = bool(opened)
        key = (page_key(pending.url), pending.selector, pending.action)
        if self._effects.get(key) == effect:
            return
        self._effects[key] = effect
        await self._in_thread(
            "write", lambda: self.store.put_effect(pending.url, pending.selector, pending.action, effect)
        )

    def forget_effect(self) -> None:
        """An awaited navigation did not happen: what the last action led to is unknown."""
        self._pending = None

    async def _effect(self, url: str, selector: str, action: str) -> dict[str, Any] | None:
        found = await self._in_thread("read", lambda: self.store.get_effect(url, selector, action))
        return dict(found) if found else None

    async def note_origin(self, url: str) -> None:
        origin = origin_of(url)
        if origin and origin not in self._origins:
            self._origins.add(origin)
            await self._in_thread("write", lambda: self.store.add_origin(url))

    # ---------------------------------------------------------------------------- actions

    def _heals(self, action: _Action) -> bool:
        heal = self.options.heal if action.heal is None else action.heal
        return bool(heal) and self.healer is not None

    def _is_failure(self, action: _Action, error: BaseException) -> bool:
        if _closed(error):
            return False
        return isinstance(error, _playwright_errors()[0]) or (action.assertion and isinstance(error, AssertionError))

    async def run(self, action: _Action) -> Any:
        if action.verb.kind != "observes":
            await self.settle_effect()
        url = self.page.url
        await self.note_origin(url)
        due = await self._capture_due(url, action.selector)
        # Capture before acting: the state the agent acted on is the one worth remembering, and a click
        # that navigates leaves nothing to capture afterwards.
        before = await self._capture(action.element(), action.strict) if due else None
        try:
            outcome = await self._invoke(action, url)
        except _Unhealed as unhealed:
            raise unhealed.error from None
        except Exception as error:
            if not self._is_failure(action, error):
                raise
            if action.verb.kind == "observes":
                self.forget_effect()
            result = await self._on_failure(action, url, error)
            if isinstance(result, _Healed):
                return result.value
            if result is error:
                raise
            raise result from error
        if isinstance(outcome, _Healed):
            return outcome.value
        self.failures.pop(action.selector, None)
        if due:
            fresh = before
            if fresh is None and page_key(self.page.url) == page_key(url):
                fresh = await self._capture(action.element(), action.strict)  # it appeared while we waited
            if fresh is not None:
                await self._record(url, action.selector, action.name, fresh)
        if action.verb.kind == "acts":
            disclosure = action.element() if _is_disclosure(before) else None
            self._pending = _PendingEffect(url, action.selector, action.name, disclosure)
        elif action.verb.kind == "observes":
            await self.settle_effect()
        return outcome

    async def _invoke(self, action: _Action, url: str) -> Any:
        """Run the action. With healing on, a target that still matches nothing after ``heal_after_ms``
        is healed right away rather than after the full timeout."""
        if not self._heals(action) or action.waits_for_absence or self.options.heal_after_ms <= 0:
            return await action.invoke()
        task = asyncio.ensure_future(action.invoke())
        try:
            done, _ = await asyncio.wait({task}, timeout=self.options.heal_after_ms / 1000)
            if done or await self._match_count(action.element()) != 0:
                return await task  # finished, or the element exists and Playwright waits for it as usual
            return await self._heal_early(action, url, task)
        finally:
            if not task.done():  # we were cancelled meanwhile: so is the agent's call
                task.cancel()

    async def _heal_early(self, action: _Action, url: str, task: asyncio.Future[Any]) -> Any:
        waited = f"no element matched {action.selector!r} within {self.options.heal_after_ms:.0f} ms"
        failure = await self._failure(action, url, "selector_not_found", 0, waited)
        decision = await self._decide(action, failure)
        if decision is None:
            action.heal_tried = True
            return await task  # nothing better: wait for the original as the agent asked
        if not await _stop(task):
            return await task  # it got there first after all
        healed = await self._act_healed(action, decision, failure)
        if isinstance(healed, _Healed):
            self.failures.pop(action.selector, None)
            return healed
        self._report(action, failure)
        error_type, _ = _playwright_errors()
        raise _Unhealed(error_type(f"{action.name} on {action.selector!r}: {waited}, and {healed.why}"))

    async def _match_count(self, locator: Locator) -> int | None:
        try:
            return await locator.count()
        except Exception:
            return None

    async def _classify(self, action: _Action, error: Exception) -> tuple[str, int | None]:
        _, timeout_error = _playwright_errors()
        if isinstance(error, AssertionError):
            matched = await self._match_count(action.element())
            missing = matched == 0 and not action.waits_for_absence
            return ("selector_not_found" if missing else "assertion_failed"), matched
        if "strict mode violation" in str(error):
            return "selector_not_found", await self._match_count(action.element())
        if isinstance(error, timeout_error):
            matched = await self._match_count(action.element())
            missing = matched == 0 and not action.waits_for_absence
            return ("selector_not_found" if missing else "timeout"), matched
        return "action_failed", None

    def _step(
        self, action: _Action, url: str, stored: StoredFingerprint | None, effect: dict[str, Any] | None
    ) -> ReplayStep:
        args = dict(action.args)
        # What an agent types into a password or card field must not end up in an event file.
        secret_field = _SENSITIVE_TARGET.search(action.selector) or (
            stored is not None and stored.fingerprint.type.lower() == "password"
        )
        if "value" in args and action.name in ("fill", "type", "press_sequentially") and secret_field:
            args["value"] = MASK
        expect = {**(effect or {}), **(action.expect or {})} or None
        return ReplayStep(action=action.name, target=action.selector, url=url, args=args, expect=expect)

    async def _failure(self, action: _Action, url: str, kind: str, matched: int | None, error: str) -> _Failure:
        """Everything a failure event carries: the step to replay, the stored fingerprint, the call sites."""
        selector = action.selector
        stored = await self._stored(url, selector)
        effect = await self._effect(url, selector, action.name) if action.verb.kind == "acts" else None
        attributes: dict[str, Any] = {
            "url": url,
            "action": action.name,
            "frame": frame_of(selector),
            "selector": selector,
            "error": error,
        }
        if matched is not None:
            attributes["matched"] = matched
        if stored is not None:
            attributes["stored_fingerprint"] = stored.fingerprint.model_dump()
            attributes["stored_summary"] = stored.fingerprint.summary()
        if action.call_site is not None:
            attributes["call_site"] = f"{action.call_site[0]}:{action.call_site[1]}"
        if action.sources:
            attributes["source"] = [site.as_dict() for site in action.sources]
            scope = _scope_of(selector, action.sources)
            if scope:
                attributes["scope"] = scope
                attributes["scope_matched"] = await self._match_count(self.page.locator(scope))
        if self._storage_state:
            attributes["storage_state"] = self._storage_state
        return _Failure(kind, attributes, self._step(action, url, stored, effect), stored)

    def _report(self, action: _Action, failure: _Failure) -> None:
        selector = action.selector
        attempts = self.failures[selector] = self.failures.get(selector, 0) + 1
        failure.attributes["attempts"] = attempts
        what = {
            "selector_not_found": "element not found",
            "timeout": "timed out",
            "action_failed": "failed",
            "assertion_failed": "assertion failed",
        }[failure.kind]
        self.emit(
            failure.kind,
            f"{action.name} on {selector!r} {what}: {_first_line(failure.attributes['error'])}",
            target=selector,
            attributes=failure.attributes,
            step=failure.step,
        )
        threshold = self.options.retry_threshold
        if threshold > 0 and attempts % threshold == 0:
            self.emit(
                "persistent_retries",
                f"{selector!r} failed {attempts} times in a row ({action.name})",
                target=selector,
                attributes={**failure.attributes, "threshold": threshold, "last_kind": failure.kind},
                step=failure.step,
            )

    async def _on_failure(self, action: _Action, url: str, error: Exception) -> _Healed | Exception:
        """Heal a missing element when healing is on; otherwise (or when that fails) report the failure.
        Returns the healed result, or the exception the agent should see."""
        kind, matched = await self._classify(action, error)
        failure = await self._failure(action, url, kind, matched, self._error_text(error))
        raised: Exception = error
        # Only a missing element is healed inline: an element that exists but is hidden or disabled is
        # the page's state, and acting on a look-alike instead is how silent wrong heals happen.
        if kind == "selector_not_found" and self._heals(action) and not action.heal_tried:
            decision = await self._decide(action, failure)
            if decision is not None:
                healed = await self._act_healed(action, decision, failure)
                if isinstance(healed, _Healed):
                    # The agent never saw this failure: it is reported as `selector_healed` instead.
                    self.failures.pop(action.selector, None)
                    return healed
                if healed.acted:
                    raised = _playwright_errors()[0](f"{action.name} on {action.selector!r}: {healed.why}")
        self._report(action, failure)
        return raised

    async def _decide(self, action: _Action, failure: _Failure) -> HealDecision | None:
        assert self.healer is not None
        old = action.selector
        stored = failure.stored.fingerprint if failure.stored else None
        try:
            decision = await self.healer(self.page, old, stored, action.name)
        except Exception:
            log.exception("healer failed for %r", old)
            return None
        if decision is None or not decision.selector or decision.selector == old:
            return None
        return decision

    async def _act_healed(self, action: _Action, decision: HealDecision, failure: _Failure) -> _Healed | _HealFailed:
        """Act on the healed selector and check the post-condition. Reports ``selector_healed`` (with
        everything the failure event would have carried, so an issue can still be opened and patched) or
        ``selector_heal_failed``, and tells the healer which."""
        old, new = action.selector, decision.selector
        url = failure.attributes["url"]
        base = {
            **failure.attributes,
            "frame": frame_of(new),
            "old_selector": old,
            "new_selector": new,
            "confidence": decision.confidence,
            "method": decision.method,
            "notes": list(decision.notes),
            "failure_kind": failure.kind,
        }
        before = await self._capture(self.page.locator(new), True)
        try:
            result = await action.retarget(new)
        except Exception as error:
            if not self._is_failure(action, error):
                raise
            self.emit(
                "selector_heal_failed",
                f"healed selector {new!r} for {old!r} did not work either: {_first_line(str(error))}",
                target=old,
                severity=Severity.warning,
                attributes={**base, "heal_error": self._error_text(error)},
                step=failure.step,
            )
            await self._confirm(old, decision, False, url)
            return _HealFailed(False, f"the healed selector {new!r} did not work either: {_first_line(str(error))}")
        problems = await self._verify(action, new, failure.step)
        if problems:
            self.emit(
                "selector_heal_failed",
                f"{action.name} on the healed selector {new!r} for {old!r} ran, but its post-condition failed: "
                + "; ".join(problems),
                target=old,
                severity=Severity.warning,
                attributes={**base, "postcondition_failed": problems},
                step=failure.step,
            )
            await self._confirm(old, decision, False, url)
            return _HealFailed(True, f"acted on the healed selector {new!r}, but " + "; ".join(problems))
        self.emit(
            "selector_healed",
            f"{action.name} on {old!r} healed with {new!r} ({decision.method or 'healer'}, "
            f"confidence {decision.confidence:.2f})",
            target=old,
            severity=Severity.info,
            attributes=base,
            step=failure.step,
        )
        if before is not None:
            await self._record(url, new, action.name, before)
        await self._confirm(old, decision, True, url)
        return _Healed(result)

    async def _verify(self, action: _Action, selector: str, step: ReplayStep) -> list[str]:
        """Post-conditions of a healed action that failed (empty when all hold): the step's ``expect``
        (the agent's, plus the recorded effect of the original) and what the action itself implies."""
        checks = dict(step.expect or {})
        value = action.args.get("value")  # the live value: never written anywhere, only compared
        if action.name == "fill" and isinstance(value, str):
            checks.setdefault("value", value)
        elif action.name in ("type", "press_sequentially") and isinstance(value, str) and value:
            checks.setdefault("value_contains", value)
        elif action.name in ("check", "uncheck"):
            checks.setdefault("checked", action.name == "check")
        elif action.name == "set_checked" and "checked" in action.args:
            checks.setdefault("checked", bool(action.args["checked"]))
        if not checks:
            return []
        from healing_mcp.components.browser.replay import check_expectations

        return await check_expectations(self.page, checks, self.options.verify_timeout_ms, target=selector)

    async def _confirm(self, old: str, decision: HealDecision, succeeded: bool, url: str) -> None:
        """Tell a healer that has a ``confirm`` method whether acting on its selector worked (and its
        post-condition held): the agent's own action is the most honest retest there is. ``url`` is where
        the failure happened (the action may have navigated away since). A failing hook never breaks the
        agent."""
        confirm = getattr(self.healer, "confirm", None)
        if confirm is None:
            return
        try:
            await confirm(old, decision, succeeded, url)
        except Exception:
            log.exception("healer confirmation failed for %r", old)

    async def assert_page(self, name: str, invoke: Callable[[], Awaitable[None]], args: dict[str, Any]) -> None:
        """``expect(page).<name>(...)``: reported as ``assertion_failed`` when it fails."""
        url = self.page.url
        try:
            await invoke()
        except AssertionError as error:
            self.forget_effect()
            target = page_key(url)
            self.emit(
                "assertion_failed",
                f"expect(page).{name} failed on {target}: {_first_line(str(error))}",
                target=target,
                attributes={"url": url, "action": "expect", "frame": "", "selector": None, **args},
                step=ReplayStep(action="expect", url=url, args=args),
            )
            raise
        await self.settle_effect()

    # ---------------------------------------------------------------------------- navigation

    async def goto(self, url: str, expect: dict[str, Any] | None, **options: Any) -> Response | None:
        await self.settle_effect()
        try:
            response = await self.page.goto(url, **options)
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
        await self.note_origin(self.page.url)
        return response

    async def wait_for_url(self, url: Any, where: tuple[str, int], **options: Any) -> None:
        start = self.page.url
        try:
            await self.page.wait_for_url(url, **options)
        except Exception as error:
            error_type, timeout_error = _playwright_errors()
            if not isinstance(error, error_type) or _closed(error):
                raise
            self.forget_effect()
            wanted = url if isinstance(url, str) else getattr(url, "pattern", None) or "a URL predicate"
            self.emit(
                "timeout" if isinstance(error, timeout_error) else "navigation_error",
                f"wait_for_url {_strip_query(wanted)} failed on {page_key(start)}: {_first_line(str(error))}",
                target=_strip_query(wanted),
                attributes={
                    "url": start,
                    "action": "wait_for_url",
                    "frame": "",
                    "selector": None,
                    "error": self._error_text(error),
                    "call_site": f"{where[0]}:{where[1]}",
                    "attempts": 1,
                },
                step=ReplayStep(action="wait_for_url", url=start, args={"url": wanted}),
            )
            raise
        await self.settle_effect()

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


def _scope_of(selector: str, sources: tuple[SourceSite, ...]) -> str:
    """The part of a chained selector that encloses the element (``#card`` of ``#card >> .buy``), when it
    is more than a frame chain; "" otherwise."""
    leaf = leaf_site(sources)
    if leaf is None or not leaf.part:
        return ""
    index = selector.rfind(leaf.part)
    prefix = selector[:index].removesuffix(" >> ") if index > 0 else ""
    return "" if not prefix or prefix.endswith("internal:control=enter-frame") else prefix


async def _stop(task: asyncio.Future[Any]) -> bool:
    """Cancel a pending Playwright call (Playwright aborts it in the browser). False when it had
    already finished successfully, so its result stands."""
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise  # we are being cancelled ourselves
        return True
    except Exception:
        return True
    return False


# ------------------------------------------------------------------------------------------ wrappers


def _unwrap(value: Any) -> Any:
    return value.raw if isinstance(value, InstrumentedLocator | InstrumentedFrameLocator) else value


def _unwrap_all(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return tuple(_unwrap(a) for a in args), {k: _unwrap(v) for k, v in kwargs.items()}


def _pop_hooks(kwargs: dict[str, Any]) -> tuple[bool | None, dict[str, Any] | None]:
    heal = kwargs.pop("heal", None)
    expect = kwargs.pop("expect", None)
    return (None if heal is None else bool(heal)), expect


class _Finders:
    """The locator-building calls shared by pages, locators and frame locators. Each child remembers
    where in the agent's code it was built (see :class:`SourceSite`)."""

    _session: _Session
    _sources: tuple[SourceSite, ...] = ()

    def _source(self) -> Any:
        raise NotImplementedError

    def _selector(self) -> str:
        return ""

    def _child(self, raw: Locator, api: str, where: tuple[str, int]) -> InstrumentedLocator:
        part = _added_part(self._selector(), selector_of(raw), isinstance(self, InstrumentedFrameLocator))
        return InstrumentedLocator(self._session, raw, (*self._sources, _site(api, part, where)))

    def locator(self, selector_or_locator: Any, **kwargs: Any) -> InstrumentedLocator:
        (target,), kw = _unwrap_all((selector_or_locator,), kwargs)
        return self._child(self._source().locator(target, **kw), "locator", _caller())

    def get_by_role(self, role: Any, **kwargs: Any) -> InstrumentedLocator:
        return self._child(self._source().get_by_role(role, **kwargs), "get_by_role", _caller())

    def get_by_text(self, text: Any, **kwargs: Any) -> InstrumentedLocator:
        return self._child(self._source().get_by_text(text, **kwargs), "get_by_text", _caller())

    def get_by_label(self, text: Any, **kwargs: Any) -> InstrumentedLocator:
        return self._child(self._source().get_by_label(text, **kwargs), "get_by_label", _caller())

    def get_by_placeholder(self, text: Any, **kwargs: Any) -> InstrumentedLocator:
        return self._child(self._source().get_by_placeholder(text, **kwargs), "get_by_placeholder", _caller())

    def get_by_test_id(self, test_id: Any) -> InstrumentedLocator:
        return self._child(self._source().get_by_test_id(test_id), "get_by_test_id", _caller())

    def get_by_alt_text(self, text: Any, **kwargs: Any) -> InstrumentedLocator:
        return self._child(self._source().get_by_alt_text(text, **kwargs), "get_by_alt_text", _caller())

    def get_by_title(self, text: Any, **kwargs: Any) -> InstrumentedLocator:
        return self._child(self._source().get_by_title(text, **kwargs), "get_by_title", _caller())

    def frame_locator(self, selector: str) -> InstrumentedFrameLocator:
        raw = self._source().frame_locator(selector)
        site = _site("frame_locator", selector, _caller())
        return InstrumentedFrameLocator(self._session, raw, (*self._sources, site))


def _page_verb(method: str) -> Callable[..., Awaitable[Any]]:
    async def act(self: InstrumentedPage, selector: str, *args: Any, **kwargs: Any) -> Any:
        return await self._act(method, selector, args, kwargs, _caller())

    act.__name__ = act.__qualname__ = method
    act.__doc__ = f"``Page.{method}``, reported, fingerprinted and (with healing on) healed."
    return act


def _locator_verb(method: str) -> Callable[..., Awaitable[Any]]:
    async def act(self: InstrumentedLocator, *args: Any, **kwargs: Any) -> Any:
        return await self._act(method, args, kwargs, _caller())

    act.__name__ = act.__qualname__ = method
    act.__doc__ = f"``Locator.{method}``, reported, fingerprinted and (with healing on) healed."
    return act


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

    async def wait_for_url(self, url: Any, **kwargs: Any) -> None:
        await self._session.wait_for_url(url, _caller(), **kwargs)

    async def _act(
        self, method: str, selector: str, args: tuple[Any, ...], kwargs: dict[str, Any], where: tuple[str, int]
    ) -> Any:
        heal, expect = _pop_hooks(kwargs)
        args, kwargs = _unwrap_all(args, kwargs)
        page = self._page
        # Locator methods are strict and take no 'strict' flag; the healed call goes through a locator.
        retarget_kwargs = {k: v for k, v in kwargs.items() if k != "strict"}

        def retarget(new: str) -> Awaitable[Any]:
            if method == "wait_for_selector":
                return page.wait_for_selector(new, *args, **kwargs)
            return getattr(page.locator(new), method)(*args, **retarget_kwargs)  # type: ignore[no-any-return]

        return await self._session.run(
            _Action(
                name=VERBS[method].step,
                selector=selector,
                element=lambda: page.locator(selector),
                invoke=lambda: getattr(page, method)(selector, *args, **kwargs),
                retarget=retarget,
                verb=VERBS[method],
                strict=bool(kwargs.get("strict", False)),
                args=_step_args(method, args, kwargs),
                expect=expect,
                heal=heal,
                waits_for_absence=_absent(method, kwargs),
                sources=(_site(method, selector, where),),
                call_site=where,
            )
        )

    click = _page_verb("click")
    dblclick = _page_verb("dblclick")
    tap = _page_verb("tap")
    press = _page_verb("press")
    fill = _page_verb("fill")
    type = _page_verb("type")
    check = _page_verb("check")
    uncheck = _page_verb("uncheck")
    set_checked = _page_verb("set_checked")
    select_option = _page_verb("select_option")
    set_input_files = _page_verb("set_input_files")
    hover = _page_verb("hover")
    focus = _page_verb("focus")
    wait_for_selector = _page_verb("wait_for_selector")
    text_content = _page_verb("text_content")
    inner_text = _page_verb("inner_text")
    inner_html = _page_verb("inner_html")
    input_value = _page_verb("input_value")
    get_attribute = _page_verb("get_attribute")


class InstrumentedLocator(_Finders):
    """A Playwright ``Locator`` whose actions are reported and fingerprinted."""

    def __init__(self, session: _Session, locator: Locator, sources: tuple[SourceSite, ...] = ()) -> None:
        self._session = session
        self._locator = locator
        self._sources = sources

    @property
    def raw(self) -> Locator:
        return self._locator

    @property
    def selector(self) -> str:
        """The page-level selector, including the frame chain for elements in iframes."""
        return selector_of(self._locator)

    @property
    def sources(self) -> tuple[SourceSite, ...]:
        """Where the agent's code built this locator, one entry per call of the chain."""
        return self._sources

    def _source(self) -> Locator:
        return self._locator

    def _selector(self) -> str:
        return self.selector

    def __getattr__(self, name: str) -> Any:
        return getattr(self._locator, name)

    def __repr__(self) -> str:
        return f"<InstrumentedLocator {self.selector!r}>"

    # ---------------------------------------------------------------- chaining

    @property
    def first(self) -> InstrumentedLocator:
        return self._child(self._locator.first, "first", _caller())

    @property
    def last(self) -> InstrumentedLocator:
        return self._child(self._locator.last, "last", _caller())

    def nth(self, index: int) -> InstrumentedLocator:
        return self._child(self._locator.nth(index), "nth", _caller())

    def filter(self, **kwargs: Any) -> InstrumentedLocator:
        _, kw = _unwrap_all((), kwargs)
        return self._child(self._locator.filter(**kw), "filter", _caller())

    def and_(self, other: Any) -> InstrumentedLocator:
        return self._child(self._locator.and_(_unwrap(other)), "and_", _caller())

    def or_(self, other: Any) -> InstrumentedLocator:
        return self._child(self._locator.or_(_unwrap(other)), "or_", _caller())

    @property
    def content_frame(self) -> InstrumentedFrameLocator:
        site = _site("content_frame", "", _caller())
        return InstrumentedFrameLocator(self._session, self._locator.content_frame, (*self._sources, site))

    async def all(self) -> list[InstrumentedLocator]:
        where = _caller()
        return [self._child(item, "nth", where) for item in await self._locator.all()]

    # ---------------------------------------------------------------- actions

    async def _act(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any], where: tuple[str, int]) -> Any:
        heal, expect = _pop_hooks(kwargs)
        args, kwargs = _unwrap_all(args, kwargs)
        locator = self._locator
        page = self._session.page

        def retarget(new: str) -> Awaitable[Any]:
            return getattr(page.locator(new), method)(*args, **kwargs)  # type: ignore[no-any-return]

        return await self._session.run(
            _Action(
                name=VERBS[method].step,
                selector=self.selector,
                element=lambda: locator,
                invoke=lambda: getattr(locator, method)(*args, **kwargs),
                retarget=retarget,
                verb=VERBS[method],
                args=_step_args(method, args, kwargs),
                expect=expect,
                heal=heal,
                waits_for_absence=_absent(method, kwargs),
                sources=self._sources,
                call_site=where,
            )
        )

    async def _assert(
        self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], message: str | None, where: tuple[str, int]
    ) -> None:
        from playwright.async_api import expect as playwright_expect

        heal = kwargs.pop("heal", None)
        locator = self._locator
        page = self._session.page

        def invoke() -> Awaitable[None]:
            return getattr(playwright_expect(locator, message), name)(*args, **kwargs)  # type: ignore[no-any-return]

        def retarget(new: str) -> Awaitable[None]:
            return getattr(playwright_expect(page.locator(new), message), name)(*args, **kwargs)  # type: ignore[no-any-return]

        await self._session.run(
            _Action(
                name="expect",
                selector=self.selector,
                element=lambda: locator,
                invoke=invoke,
                retarget=retarget,
                verb=_EXPECT,
                args=_assertion_args(name, args, kwargs),
                heal=None if heal is None else bool(heal),
                waits_for_absence=_absent_assertion(name),
                assertion=True,
                sources=self._sources,
                call_site=where,
            )
        )

    click = _locator_verb("click")
    dblclick = _locator_verb("dblclick")
    tap = _locator_verb("tap")
    press = _locator_verb("press")
    fill = _locator_verb("fill")
    type = _locator_verb("type")
    press_sequentially = _locator_verb("press_sequentially")
    clear = _locator_verb("clear")
    check = _locator_verb("check")
    uncheck = _locator_verb("uncheck")
    set_checked = _locator_verb("set_checked")
    select_option = _locator_verb("select_option")
    set_input_files = _locator_verb("set_input_files")
    hover = _locator_verb("hover")
    focus = _locator_verb("focus")
    blur = _locator_verb("blur")
    scroll_into_view_if_needed = _locator_verb("scroll_into_view_if_needed")
    wait_for = _locator_verb("wait_for")
    text_content = _locator_verb("text_content")
    inner_text = _locator_verb("inner_text")
    inner_html = _locator_verb("inner_html")
    input_value = _locator_verb("input_value")
    get_attribute = _locator_verb("get_attribute")


class InstrumentedFrameLocator(_Finders):
    """A Playwright ``FrameLocator`` that hands out instrumented locators."""

    def __init__(self, session: _Session, frame_locator: FrameLocator, sources: tuple[SourceSite, ...] = ()) -> None:
        self._session = session
        self._frame_locator = frame_locator
        self._sources = sources

    @property
    def raw(self) -> FrameLocator:
        return self._frame_locator

    def _source(self) -> FrameLocator:
        return self._frame_locator

    def _selector(self) -> str:
        return selector_of(self._frame_locator)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._frame_locator, name)

    def __repr__(self) -> str:
        return f"<InstrumentedFrameLocator {selector_of(self._frame_locator)!r}>"

    def _sibling(self, raw: FrameLocator, api: str) -> InstrumentedFrameLocator:
        part = _added_part(self._selector(), selector_of(raw), False)
        return InstrumentedFrameLocator(self._session, raw, (*self._sources, _site(api, part, _caller())))

    @property
    def first(self) -> InstrumentedFrameLocator:
        return self._sibling(self._frame_locator.first, "first")

    @property
    def last(self) -> InstrumentedFrameLocator:
        return self._sibling(self._frame_locator.last, "last")

    def nth(self, index: int) -> InstrumentedFrameLocator:
        return self._sibling(self._frame_locator.nth(index), "nth")

    @property
    def owner(self) -> InstrumentedLocator:
        return InstrumentedLocator(self._session, self._frame_locator.owner, self._sources)


# ------------------------------------------------------------------------------------------ assertions


class _Assertions:
    """Playwright's assertions on a wrapped locator or page; every ``to_*`` / ``not_to_*`` is reported
    (and, for locators, healed) like an action."""

    def __init__(self, target: InstrumentedLocator | InstrumentedPage, message: str | None, negated: bool) -> None:
        self._target = target
        self._message = message
        self._negated = negated

    @property
    def not_(self) -> _Assertions:
        return _Assertions(self._target, self._message, not self._negated)

    def __getattr__(self, name: str) -> Callable[..., Awaitable[None]]:
        if not name.startswith(("to_", "not_to_")):
            raise AttributeError(name)
        if self._negated:
            name = name.removeprefix("not_") if name.startswith("not_") else f"not_{name}"
        target, message = self._target, self._message

        async def assertion(*args: Any, **kwargs: Any) -> None:
            if isinstance(target, InstrumentedLocator):
                await target._assert(name, args, kwargs, message, _caller())
                return
            from playwright.async_api import expect as playwright_expect

            def invoke() -> Awaitable[None]:
                return getattr(playwright_expect(target.raw, message), name)(*args, **kwargs)  # type: ignore[no-any-return]

            await target._session.assert_page(name, invoke, _assertion_args(name, args, kwargs))

        assertion.__name__ = name
        return assertion


def expect(target: Any, message: str | None = None) -> Any:
    """Playwright's ``expect`` that also accepts wrapped locators and pages: the same assertions, reported
    as events when they fail (``selector_not_found`` when the locator matches nothing, else
    ``assertion_failed``) and healed inline like actions. Anything else goes to Playwright's ``expect``."""
    if isinstance(target, InstrumentedLocator | InstrumentedPage):
        return _Assertions(target, message, False)
    from playwright.async_api import expect as playwright_expect

    return playwright_expect(target, message)


# ------------------------------------------------------------------------------------------ healers


async def similarity_healer(
    page: Page, selector: str, stored: ElementFingerprint | None, action: str
) -> HealDecision | None:
    """A :data:`Healer` that uses no memory: re-find the element by similarity and build a selector.

    Captures every candidate of the page, lets the matcher pick the one the stored fingerprint (or the
    failed selector) describes, and returns the most resilient unique selector for it, through the
    agent's own frame chain when that still leads there. Returns None when the matcher refuses (no
    candidate is clearly the element) or no unique selector exists.
    """
    from healing_mcp.components.browser.capture import candidate_handle, capture_candidates
    from healing_mcp.components.browser.matching import match_element
    from healing_mcp.components.browser.selectors import build_selector, keep_frame_chain

    candidates = await capture_candidates(page)
    result = match_element(stored, [c.fingerprint for c in candidates], failed_selector=selector)
    if not result.healed or result.index is None:
        return None
    chosen = candidates[result.index]
    handle = await candidate_handle(page, chosen)
    choice = await build_selector(page, handle, chosen.fingerprint)
    if not choice.unique:
        return None
    choice = await keep_frame_chain(page, choice, handle, frame_of(selector))
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
    ``heal=True`` here or per call); ``fingerprinter`` defaults to the capture module's ``capture_target``.
    Any :class:`InstrumentOptions` field can be passed as a keyword, e.g.
    ``instrument(page, heal=True, retry_threshold=5, storage_state="auth/user.json")``.

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
