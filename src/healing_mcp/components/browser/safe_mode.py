"""Safe mode: the guard every browser fix attempt and retest runs under.

A retest replays what an agent did on a real site. It must find out whether the step works again without
doing what the step would really do: no orders placed, no posts published, no forms sent. Safe mode
enforces that at three levels, so one gap does not let a write through:

1. **Network**: every request whose method is not GET, HEAD or OPTIONS is aborted through Playwright
   routing (XHR, ``fetch``, ``sendBeacon``, form posts, in every frame), and recorded.
2. **Forms**: a script installed in every frame (now and after each navigation) cancels ``submit`` events
   in the capture phase and disables ``form.submit()`` / ``form.requestSubmit()``, so even GET forms do
   not submit. Each cancelled submission is reported back to Python through a binding.
3. **Clicks**: :meth:`SafeMode.check_click` refuses elements that would submit or publish: submit buttons
   and anything whose text, accessible name, value or label contains a risky word ("buy", "delete", ...).
   :meth:`SafeMode.set_checked` and :meth:`SafeMode.select_option` apply the same test to the checkbox
   (and to the option chosen), since ticking "Delete my account" can be as final as clicking it.

With ``allowed_origins``, the guard also keeps the top-level page on those origins (and loopback):
navigating elsewhere, directly or by a redirect, is aborted and recorded, so a step from an untrusted
report cannot make the browser open an arbitrary address. Sub-resources and iframes are the page's own
business and are not restricted.

Usage::

    async with SafeMode(page) as guard:
        await guard.fill(page.locator("#q"), "shoes")
        reason = await guard.check_click(page.locator("#buy"))   # 'button "Buy now": text contains "buy"'
        print(guard.blocked)                                      # plain-words records

Limits: requests served by a service worker bypass Playwright routing (create the context with
``service_workers="block"`` for retests), and WebSocket messages are not intercepted.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from healing_mcp.components.browser.fingerprint_store import origin_of

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, ElementHandle, Frame, Locator, Page, Route

DEFAULT_BLOCK_WORDS: tuple[str, ...] = (
    "publish",
    "post",
    "send",
    "submit",
    "buy",
    "purchase",
    "order",
    "pay",
    "checkout",
    "delete",
    "remove",
    "confirm",
    "transfer",
    "subscribe",
)
SAFE_METHODS: tuple[str, ...] = ("GET", "HEAD", "OPTIONS")
# Keys that activate the focused element like a click does.
_ACTIVATING_KEYS = {"Enter", "NumpadEnter", "Space", " "}

# Installed in every frame. Idempotent: a second run only re-activates it and points it at the newest
# binding, so nested or repeated guards on the same page do not stack listeners.
_FORM_GUARD_JS = """
(binding) => {
  const KEY = "__healingSafeMode";
  const state = window[KEY] || (window[KEY] = { active: true, installed: false, binding: binding });
  state.active = true;
  state.binding = binding;
  if (state.installed) return;
  state.installed = true;
  const report = (how, form) => {
    const info = { how: how, method: "", action: "", form: "" };
    if (form && form.getAttribute) {
      info.method = (form.getAttribute("method") || "get").toUpperCase();
      info.action = form.action || String(location.href);
      info.form = form.id ? "#" + form.id : (form.getAttribute("name") || "");
    }
    const fn = window[state.binding];
    if (typeof fn === "function") { try { fn(info); } catch (e) { /* page closing */ } }
  };
  window.addEventListener("submit", (event) => {
    if (!state.active) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    report("submit event", event.target);
  }, true);
  const proto = HTMLFormElement.prototype;
  const originalSubmit = proto.submit;
  const originalRequestSubmit = proto.requestSubmit;
  proto.submit = function () {
    if (state.active) { report("form.submit()", this); return; }
    return originalSubmit.call(this);
  };
  if (originalRequestSubmit) {
    proto.requestSubmit = function () {
      if (state.active) { report("form.requestSubmit()", this); return; }
      return originalRequestSubmit.apply(this, arguments);
    };
  }
}
"""

_DEACTIVATE_JS = "() => { if (window.__healingSafeMode) window.__healingSafeMode.active = false; }"

# What check_click needs to know about an element and the control it sits in (a click on a <span> inside
# a submit button submits just the same).
_DESCRIBE_JS = """
(el) => {
  const clean = (s) => (s || "").replace(/\\s+/g, " ").trim().slice(0, 300);
  const root = el.getRootNode ? el.getRootNode() : document;
  const byId = (id) => (root.getElementById ? root.getElementById(id) : null) || document.getElementById(id);
  const info = (node) => {
    const tag = node.tagName.toLowerCase();
    const ids = (node.getAttribute("aria-labelledby") || "").split(/\\s+/).filter(Boolean);
    const labelledBy = ids.map((id) => { const n = byId(id); return n ? n.textContent : ""; }).join(" ");
    const labels = node.labels ? Array.from(node.labels).map((l) => l.textContent).join(" ") : "";
    const isInput = tag === "input";
    return {
      tag: tag,
      editable: !!node.isContentEditable,
      type: (node.getAttribute("type") || "").toLowerCase(),
      id: node.id || "",
      text: clean(node.innerText || node.textContent),
      aria_label: clean(node.getAttribute("aria-label")),
      labelled_by: clean(labelledBy),
      label: clean(labels),
      value: isInput ? clean(node.value || node.getAttribute("value")) : "",
      title: clean(node.getAttribute("title")),
      alt: clean(node.getAttribute("alt")),
    };
  };
  const isSubmit = (node) => {
    const tag = node.tagName.toLowerCase();
    if (tag === "input") {
      const type = (node.getAttribute("type") || "").toLowerCase();
      return type === "submit" || type === "image";
    }
    if (tag === "button") return node.type === "submit" && !!node.form;
    return false;
  };
  const control = el.closest("button, input, a, [role=button], [role=link], [role=menuitem]");
  const nodes = [el];
  if (control && control !== el) nodes.push(control);
  return { nodes: nodes.map(info), submit: nodes.some(isSubmit) };
}
"""

# The labels of the options a select_option choice picks (value, label or index, single or several).
_OPTION_LABELS_JS = """
(select, choice) => {
  const wanted = (key) => { const v = choice[key]; return v === undefined || v === null ? [] : [].concat(v); };
  const options = Array.from(select.options || []);
  const picked = options.filter((o, i) => wanted("value").includes(o.value) || wanted("label").includes(o.label)
    || wanted("index").includes(i));
  return picked.map((o) => (o.label || o.textContent || "").trim());
}
"""


def _top_level_navigation(request: Any) -> bool:
    try:
        return bool(request.is_navigation_request() and request.frame.parent_frame is None)
    except Exception:  # service-worker requests have no frame
        return False


_FIELD_LABELS = {
    "text": "text",
    "aria_label": "aria-label",
    "labelled_by": "accessible name",
    "label": "label",
    "value": "value",
    "title": "title",
    "alt": "alt text",
}


class SafeModeRefusal(RuntimeError):
    """Safe mode refused an action; the message says why, ``reason`` says it without the preamble."""

    def __init__(self, action: str, reason: str) -> None:
        super().__init__(f"safe mode refused to {action}: {reason}")
        self.action = action
        self.reason = reason


def _strip_query(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}{parts.path or '/'}"
    return url.split("?", 1)[0]


def is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _describe(node: dict[str, Any]) -> str:
    label = node.get("text") or node.get("aria_label") or node.get("value") or node.get("title") or ""
    kind = node["tag"] + (f"[type={node['type']}]" if node.get("type") else "")
    name = f' "{label[:60]}"' if label else ""
    ident = f" #{node['id']}" if node.get("id") else ""
    return f"{kind}{name}{ident}"


_NON_TEXT_INPUTS = {"submit", "image", "button", "reset", "checkbox", "radio", "file", "color", "range"}


def _is_text_entry(info: dict[str, Any]) -> bool:
    nodes: list[dict[str, Any]] = info.get("nodes", [])
    if not nodes:
        return False
    first = nodes[0]
    if first["tag"] == "textarea" or first.get("editable"):
        return True
    return bool(first["tag"] == "input" and first.get("type", "") not in _NON_TEXT_INPUTS)


def _is_locator(target: Any) -> bool:
    return hasattr(target, "element_handle")  # Locators have it, ElementHandles do not


class SafeMode:
    """Async context manager that keeps a page (or a whole browser context) from writing anything.

    ``block_words`` replaces the default risky words, ``extra_block_words`` adds to them. ``timeout_ms``
    bounds the helper actions (:meth:`click`, :meth:`fill`, :meth:`press`...) and element inspection.
    ``allowed_origins`` (``https://shop.example``...) keeps top-level navigation on those origins and
    loopback; None leaves navigation alone.
    """

    def __init__(
        self,
        target: Page | BrowserContext,
        *,
        block_words: Iterable[str] | None = None,
        extra_block_words: Iterable[str] = (),
        allowed_methods: Iterable[str] = SAFE_METHODS,
        block_submit: bool = True,
        timeout_ms: float = 3_000,
        allowed_origins: Iterable[str] | None = None,
    ) -> None:
        self.target = getattr(target, "raw", target)  # accept an instrumented page as well
        words = list(DEFAULT_BLOCK_WORDS if block_words is None else block_words) + list(extra_block_words)
        self.block_words: tuple[str, ...] = tuple(dict.fromkeys(w.strip().lower() for w in words if w.strip()))
        self._word_re = (
            re.compile(r"\b(" + "|".join(re.escape(w) for w in self.block_words) + r")\b", re.IGNORECASE)
            if self.block_words
            else None
        )
        self.allowed_methods = frozenset(m.upper() for m in allowed_methods)
        self.block_submit = block_submit
        self.timeout_ms = timeout_ms
        self.allowed_origins = (
            None if allowed_origins is None else frozenset(filter(None, map(origin_of, allowed_origins)))
        )
        self.blocked: list[str] = []
        """Plain-words records of everything refused, in order."""
        self.blocked_requests: list[tuple[str, str]] = []
        """(method, url without query) of every aborted request."""
        self.blocked_submissions: list[dict[str, str]] = []
        self.active = False
        self._binding = f"__healingSafeModeReport_{secrets.token_hex(6)}"
        self._disposables: list[Any] = []
        self._routed = False

    # ------------------------------------------------------------------------------------ lifecycle

    @property
    def _is_context(self) -> bool:
        return hasattr(self.target, "new_page")

    def _frames(self) -> list[Frame]:
        pages: list[Page] = list(self.target.pages) if self._is_context else [self.target]  # type: ignore[union-attr,list-item]
        return [frame for page in pages if not page.is_closed() for frame in page.frames]

    async def __aenter__(self) -> SafeMode:
        # Active from the first route on, so nothing slips through while the rest is installed.
        self.active = True
        try:
            await self.target.route("**/*", self._on_route)
            self._routed = True
            if self.block_submit:
                self._keep(await self.target.expose_binding(self._binding, self._on_blocked_submit))
                script = f"({_FORM_GUARD_JS})({self._binding!r});"
                self._keep(await self.target.add_init_script(script=script))
                for frame in self._frames():  # documents that already exist do not get init scripts
                    await self._eval_quietly(frame, _FORM_GUARD_JS, self._binding)
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.active = False
        try:
            if self._routed:
                await self.target.unroute("**/*", self._on_route)
                self._routed = False
            # Newer Playwright returns disposables for init scripts and bindings; older versions keep them
            # for the page's lifetime, which is why the in-page guard also has an off switch.
            for disposable in reversed(self._disposables):
                with contextlib.suppress(Exception):  # the page may already be closed: nothing to undo
                    await disposable.dispose()
            self._disposables.clear()
            if self.block_submit:
                for frame in self._frames():
                    await self._eval_quietly(frame, _DEACTIVATE_JS)
        except Exception as error:  # closed page/context: nothing left to guard
            if "closed" not in str(error).lower():
                raise

    def _keep(self, maybe_disposable: Any) -> None:
        if maybe_disposable is not None and hasattr(maybe_disposable, "dispose"):
            self._disposables.append(maybe_disposable)

    @staticmethod
    async def _eval_quietly(frame: Frame, script: str, arg: Any = None) -> None:
        with contextlib.suppress(Exception):  # detached or navigating frames get the init script instead
            await frame.evaluate(script, arg)

    def navigation_refusal(self, url: str) -> str | None:
        """Why the top-level page may not go to ``url``, or None when it may."""
        if self.allowed_origins is None or url.startswith(("about:", "data:text/html")):
            return None
        origin = origin_of(url)
        if not origin:
            return f"{_strip_query(url)!r} is not an http(s) address"
        if origin in self.allowed_origins or is_loopback(url):
            return None
        return (
            f"{origin} is not an origin this component works on (it was never seen in the agent's own runs); "
            "add it to allowed_origins in [components.browser] if it should be"
        )

    async def _on_route(self, route: Route) -> None:
        request = route.request
        method = request.method.upper()
        if self.active and method not in self.allowed_methods:
            url = _strip_query(request.url)
            self.blocked_requests.append((method, url))
            self.blocked.append(f"blocked {method} request to {url}")
            await route.abort("blockedbyclient")
            return
        if self.active and self.allowed_origins is not None and _top_level_navigation(request):
            reason = self.navigation_refusal(request.url)
            if reason:
                self.blocked.append(f"blocked navigation to {_strip_query(request.url)}: {reason}")
                await route.abort("blockedbyclient")
                return
        await route.fallback()

    def _on_blocked_submit(self, source: Any, info: Any) -> None:
        details = {str(k): str(v) for k, v in (info or {}).items()} if isinstance(info, dict) else {}
        self.blocked_submissions.append(details)
        form = details.get("form") or "form"
        target = _strip_query(details.get("action", "")) or "the current page"
        method = details.get("method") or "GET"
        self.blocked.append(f"blocked submission of {form} ({details.get('how', 'submit')}): {method} {target}")

    async def settle(self) -> None:
        """Wait until reports already sent by the page (blocked submissions) have reached Python.

        Binding calls travel on the same connection as evaluation results, so one round trip per page is
        enough to flush them.
        """
        for frame in self._frames():
            if frame.parent_frame is None:
                await self._eval_quietly(frame, "() => 0")

    # ------------------------------------------------------------------------------------ checks

    def risky_word(self, text: str) -> str | None:
        """The first risky word in ``text`` (whole word, any case), or None."""
        if self._word_re is None or not text:
            return None
        found = self._word_re.search(text)
        return found.group(1).lower() if found else None

    async def describe(self, target: Locator | ElementHandle) -> dict[str, Any]:
        """What :meth:`check_click` looks at: the element, its enclosing control, whether it submits."""
        if _is_locator(target):
            result = await target.evaluate(_DESCRIBE_JS, timeout=self.timeout_ms)  # type: ignore[call-arg]
        else:
            result = await target.evaluate(_DESCRIBE_JS)
        return dict(result)

    async def check_click(self, target: Locator | ElementHandle) -> str | None:
        """Why clicking ``target`` is refused in safe mode, or None when it is allowed.

        Refused: submit buttons (``input[type=submit|image]``, a ``<button>`` that submits its form) and
        elements whose text, accessible name, label, value, title or alt text contains a risky word.
        """
        return self._click_refusal(await self.describe(target))

    def _click_refusal(self, info: dict[str, Any]) -> str | None:
        nodes: list[dict[str, Any]] = info.get("nodes", [])
        if not nodes:
            return None
        subject = _describe(nodes[0])
        if info.get("submit"):
            return f"{subject} is a submit button"
        for node in nodes:
            for field, label in _FIELD_LABELS.items():
                word = self.risky_word(str(node.get(field, "")))
                if word:
                    where = "" if node is nodes[0] else f" of its enclosing {_describe(node)}"
                    return f'{subject}: the {label}{where} contains "{word}"'
        return None

    # ------------------------------------------------------------------------------------ actions

    def refuse(self, action: str, reason: str) -> SafeModeRefusal:
        """Record a refusal in :attr:`blocked` and return the exception to raise."""
        self.blocked.append(f"refused {action}: {reason}")
        return SafeModeRefusal(action, reason)

    async def click(self, target: Locator | ElementHandle, **options: Any) -> None:
        """Click unless :meth:`check_click` refuses; raises :class:`SafeModeRefusal` then."""
        reason = await self.check_click(target)
        if reason:
            raise self.refuse("click", reason)
        if _is_locator(target):
            options.setdefault("timeout", self.timeout_ms)
        await target.click(**options)

    async def fill(self, target: Locator | ElementHandle, value: str, **options: Any) -> None:
        """Fill a field. Typing is harmless here: submission and writes are blocked by the guard."""
        if _is_locator(target):
            options.setdefault("timeout", self.timeout_ms)
        await target.fill(value, **options)

    async def set_checked(self, target: Locator | ElementHandle, checked: bool, **options: Any) -> None:
        """Tick or untick a checkbox or radio unless :meth:`check_click` refuses its label."""
        reason = await self.check_click(target)
        if reason:
            raise self.refuse("check" if checked else "uncheck", reason)
        if _is_locator(target):
            options.setdefault("timeout", self.timeout_ms)
        await target.set_checked(checked, **options)

    async def select_option(self, target: Locator, **choice: Any) -> list[str]:
        """Choose an option (``value``, ``label`` or ``index``) unless the select or that option carries a
        risky word ("Delete account" in an actions menu)."""
        labels = await target.evaluate(_OPTION_LABELS_JS, choice, timeout=self.timeout_ms)
        info = await self.describe(target)
        nodes = [dict(node, text="") for node in info.get("nodes", [])]  # every option's text is no reason
        reason = self._click_refusal({"nodes": nodes, "submit": False})
        word = next((w for w in map(self.risky_word, labels) if w), None)
        if reason is None and word:
            reason = f'the chosen option contains "{word}"'
        if reason:
            raise self.refuse("select an option", reason)
        selected: list[str] = await target.select_option(timeout=self.timeout_ms, **choice)
        return selected

    async def press(self, target: Locator | ElementHandle, key: str, **options: Any) -> None:
        """Press a key. Enter or Space on an element :meth:`check_click` refuses is refused too."""
        if key in _ACTIVATING_KEYS:
            info = await self.describe(target)
            # Enter in a text field is an implicit form submission, which the form guard cancels anyway;
            # what the field holds (the user's text) must not make the key press look risky.
            reason = None if _is_text_entry(info) else self._click_refusal(info)
            if reason:
                raise self.refuse(f"press {key}", reason)
        if _is_locator(target):
            options.setdefault("timeout", self.timeout_ms)
        await target.press(key, **options)
