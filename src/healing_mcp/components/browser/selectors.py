"""Resilient selectors for a (healed) element, in the order a person would trust them.

:func:`selector_candidates` is pure: from an :class:`ElementFingerprint` it lists Playwright selector
strings, most resilient first. :func:`build_selector` tries them on the live page and keeps the first
that matches exactly one element *and* that element is the target.

Preference order (the same as Playwright's own generator, so output looks familiar):

1. test id               ``[data-testid="login"]``, with the attribute that carried it (``data-qa``...)
2. role + accessible name ``role=button[name="Sign in"s]``
3. label (form controls)  ``internal:label="Email"s``
4. placeholder           ``[placeholder="you@example.com"]``
5. alt text              ``[alt="Company logo"]``
6. text                  ``text="Forgot password?"``
7. title                 ``[title="Help"]``
8. hand-written id       ``#login-btn`` (ids that look generated are skipped, see ``is_random_id``)
9. scoped                one of the above inside an ancestor with a hand-written id:
                         ``#card-12 >> role=button[name="Add to cart"s]``
10. short CSS path       tag + stable classes, with up to 2 ancestors: ``form.login > button.primary``
11. last resorts         ``:nth-child`` chain from the index path; on the live page ``... >> nth=2``

The test id selector uses the attribute recorded in ``test_id_attribute``; for fingerprints recorded
without it, every attribute of :data:`TEST_ID_ATTRIBUTES` is offered (``data-testid`` first) and
:func:`build_selector` keeps the one that matches. Elements inside iframes get the frame path as prefix
(``iframe[name="pay"] >> internal:control=enter-frame >> ...``).

:func:`python_spelling` turns any selector of these shapes into the Playwright Python call a person
would write (``role=button[name="Save"s]`` -> ``get_by_role("button", name="Save", exact=True)``); it is
how :attr:`SelectorChoice.python` is made, and what source patches write when the agent's code used a
``get_by_*`` call.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel

from healing_mcp.components.browser.fingerprint import ElementFingerprint
from healing_mcp.components.browser.matching import is_random_id

if TYPE_CHECKING:
    from playwright.async_api import ElementHandle, Frame, Page

__all__ = [
    "TEST_ID_ATTRIBUTES",
    "SelectorChoice",
    "build_selector",
    "css_escape",
    "keep_frame_chain",
    "python_spelling",
    "selector_candidates",
    "split_chain",
]

TEST_ID_ATTRIBUTES = ("data-testid", "data-test-id", "data-test", "data-qa", "data-cy")
ENTER_FRAME = " >> internal:control=enter-frame >> "
_NAMED_ROLES = frozenset(
    {
        "button", "link", "checkbox", "radio", "textbox", "searchbox", "combobox", "listbox", "option",
        "menuitem", "menuitemcheckbox", "menuitemradio", "tab", "switch", "slider", "spinbutton", "heading",
        "img", "cell", "columnheader", "rowheader", "treeitem", "dialog", "navigation", "region", "form",
        "row", "gridcell", "listitem", "progressbar", "article", "figure", "table",
    }
)  # fmt: skip
_LABELABLE = frozenset({"input", "select", "textarea", "meter", "progress", "output"})
_MAX_TEXT = 80


class SelectorChoice(BaseModel):
    """A selector for one element: ``selector`` for ``page.locator()``, ``python`` for people."""

    selector: str
    strategy: str
    unique: bool
    python: str


@dataclass(frozen=True)
class _Spec:
    strategy: str
    selector: str  # frame-relative; see python_spelling for how people would write it


def _q(value: str) -> str:
    """A double-quoted string literal valid in Playwright selectors and in Python."""
    return json.dumps(value, ensure_ascii=False)


def split_chain(selector: str) -> list[str]:
    """The ``>>`` parts of a selector, ignoring ``>>`` inside quoted values."""
    parts: list[str] = []
    start = i = 0
    quote = ""
    while i < len(selector):
        ch = selector[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif selector.startswith(" >> ", i):
            parts.append(selector[start:i])
            i += 4
            start = i
            continue
        i += 1
    parts.append(selector[start:])
    return [p.strip() for p in parts]


_QUOTED = r'("(?:[^"\\]|\\.)*")'
# The shapes _primary_specs and build_selector produce, and the call each stands for.
_SPELLINGS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"role=([a-z]+)\[name={_QUOTED}s\]"), "get_by_role({role}, name={value}, exact=True)"),
    (re.compile(rf"internal:label={_QUOTED}s"), "get_by_label({value}, exact=True)"),
    (re.compile(rf"\[data-testid={_QUOTED}\]"), "get_by_test_id({value})"),
    (re.compile(rf"\[placeholder={_QUOTED}\]"), "get_by_placeholder({value}, exact=True)"),
    (re.compile(rf"\[alt={_QUOTED}\]"), "get_by_alt_text({value}, exact=True)"),
    (re.compile(rf"text={_QUOTED}"), "get_by_text({value}, exact=True)"),
    (re.compile(rf"\[title={_QUOTED}\]"), "get_by_title({value}, exact=True)"),
)


def _spell_part(part: str) -> str:
    nth = re.fullmatch(r"nth=(-?\d+)", part)
    if nth:
        return f"nth({nth.group(1)})"
    for pattern, template in _SPELLINGS:
        found = pattern.fullmatch(part)
        if found:
            *role, quoted = found.groups()
            return template.format(role=_q(role[0]) if role else "", value=_q(json.loads(quoted)))
    return f"locator({_q(part)})"


def python_spelling(selector: str) -> str:
    """The Playwright Python locator calls for a frame-relative ``selector``, without the leading
    ``page.``: ``#card >> role=button[name="Add"s]`` -> ``locator("#card").get_by_role("button",
    name="Add", exact=True)``. Parts of no known shape become ``locator("...")``."""
    return ".".join(_spell_part(part) for part in split_chain(selector))


def css_escape(ident: str) -> str:
    """Escape an identifier for CSS (``#id``, ``.class``), like the browser's ``CSS.escape``."""
    out: list[str] = []
    for i, ch in enumerate(ident):
        code = ord(ch)
        if code == 0:
            out.append("\ufffd")
        elif 0x1 <= code <= 0x1F or code == 0x7F or (ch.isdigit() and (i == 0 or (i == 1 and ident[0] == "-"))):
            out.append(f"\\{code:x} ")
        elif i == 0 and ch == "-" and len(ident) == 1:
            out.append("\\-")
        elif code >= 0x80 or ch in "-_" or ch.isalnum():
            out.append(ch)
        else:
            out.append("\\" + ch)
    return "".join(out)


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _stable_classes(classes: list[str]) -> list[str]:
    state = {"active", "selected", "open", "show", "hidden", "disabled", "focus", "hover", "current"}
    return [c for c in classes if c not in state and not c.startswith("is-") and not is_random_id(c)]


def _css_compound(tag: str, element_id: str, classes: list[str], max_classes: int = 2) -> str:
    if element_id and not is_random_id(element_id):
        return f"{tag}#{css_escape(element_id)}" if tag else f"#{css_escape(element_id)}"
    stable = _stable_classes(classes)[:max_classes]
    return tag + "".join(f".{css_escape(c)}" for c in stable)


def _parse_ancestor(summary: str) -> tuple[str, str, list[str]]:
    """("form#login.card") -> ("form", "login", ["card"]). Ids and classes may not contain # or ."""
    match = re.match(r"^([^#.]+)(?:#([^.]*))?((?:\.[^.]+)*)$", summary)
    if not match:
        return summary, "", []
    classes = [c for c in (match.group(3) or "").split(".") if c]
    return match.group(1), match.group(2) or "", classes


def _primary_specs(fp: ElementFingerprint) -> list[_Spec]:
    """Rules 1-8: selectors that name the element by what it is, not where it is."""
    specs: list[_Spec] = []
    if fp.test_id:
        for attr in (fp.test_id_attribute,) if fp.test_id_attribute else TEST_ID_ATTRIBUTES:
            specs.append(_Spec("test_id", f"[{attr}={_q(fp.test_id)}]"))
    name = _collapse(fp.accessible_name)
    if fp.role in _NAMED_ROLES and name and len(name) <= _MAX_TEXT:
        specs.append(_Spec("role", f"role={fp.role}[name={_q(name)}s]"))
    if fp.tag in _LABELABLE and name and len(name) <= _MAX_TEXT:
        specs.append(_Spec("label", f"internal:label={_q(name)}s"))
    if fp.placeholder:
        specs.append(_Spec("placeholder", f"[placeholder={_q(fp.placeholder)}]"))
    if fp.alt:
        specs.append(_Spec("alt", f"[alt={_q(fp.alt)}]"))
    text = _collapse(fp.text)
    if text and len(text) <= _MAX_TEXT:
        specs.append(_Spec("text", f"text={_q(text)}"))
    if fp.title:
        specs.append(_Spec("title", f"[title={_q(fp.title)}]"))
    if fp.id and not is_random_id(fp.id):
        specs.append(_Spec("id", f"#{css_escape(fp.id)}"))
    return specs


def _scoped_specs(fp: ElementFingerprint, primary: list[_Spec]) -> list[_Spec]:
    """Rule 9: a primary selector inside the nearest ancestors that have a hand-written id."""
    specs: list[_Spec] = []
    for summary in fp.ancestors[:6]:
        if summary == "#shadow-root":
            continue
        _, element_id, _ = _parse_ancestor(summary)
        if not element_id or is_random_id(element_id):
            continue
        scope = f"#{css_escape(element_id)}"
        for spec in primary:
            if spec.strategy in ("id", "test_id"):
                continue  # unique on the page already: a scope adds nothing
            specs.append(_Spec(f"scoped {spec.strategy}", f"{scope} >> {spec.selector}"))
        if len(specs) >= 6:
            break
    return specs


def _css_specs(fp: ElementFingerprint) -> list[_Spec]:
    """Rule 10: tag + stable classes, then with one and two ancestors."""
    own = _css_compound(fp.tag, "", fp.classes)
    chain: list[str] = []
    for summary in fp.ancestors[:2]:
        if summary == "#shadow-root":
            break
        tag, element_id, classes = _parse_ancestor(summary)
        if tag in ("html", "body"):
            break
        chain.append(_css_compound(tag, element_id, classes))
    selectors = [own] if own != fp.tag else []
    if chain:
        selectors.append(f"{chain[0]} > {own}")
    if len(chain) > 1:
        selectors.append(f"{chain[1]} > {chain[0]} > {own}")
    return [_Spec("css", selector) for selector in selectors]


def _path_spec(fp: ElementFingerprint) -> list[_Spec]:
    """Rule 11: an ``:nth-child`` chain from the root (Playwright's CSS crosses open shadow roots)."""
    if not fp.index_path:
        return []
    selector = ":root" + "".join(f" > :nth-child({i + 1})" for i in fp.index_path)
    return [_Spec("nth-child path", selector)]


def _all_specs(fp: ElementFingerprint) -> list[_Spec]:
    primary = _primary_specs(fp)
    specs = primary + _scoped_specs(fp, primary) + _css_specs(fp) + _path_spec(fp)
    seen: set[str] = set()
    unique: list[_Spec] = []
    for spec in specs:
        if spec.selector not in seen:
            seen.add(spec.selector)
            unique.append(spec)
    return unique


def _frame_python(frame: str) -> str:
    """``page`` expression for a frame path: ``page.locator('iframe[name="x"]').content_frame``."""
    if not frame:
        return "page"
    expr = "page"
    for part in frame.split(ENTER_FRAME):
        expr += f".locator({_q(part)}).content_frame"
    return expr


def _choice(frame: str, spec: _Spec, unique: bool) -> SelectorChoice:
    selector = f"{frame}{ENTER_FRAME}{spec.selector}" if frame else spec.selector
    return SelectorChoice(
        selector=selector,
        strategy=spec.strategy,
        unique=unique,
        python=f"{_frame_python(frame)}.{python_spelling(spec.selector)}",
    )


def _with_frame(fp: ElementFingerprint, spec: _Spec, unique: bool) -> SelectorChoice:
    return _choice(fp.frame, spec, unique)


def selector_candidates(fp: ElementFingerprint) -> list[str]:
    """Candidate selectors for ``fp``, most resilient first (see the module docstring for the rules).

    Not checked against any page: some may match several elements or none; use :func:`build_selector`
    on a live page to pick one. Selectors for elements in iframes carry the frame path prefix.
    """
    return [_with_frame(fp, spec, False).selector for spec in _all_specs(fp)]


_MATCHES_JS = "(els, target) => [els.length, els.indexOf(target)]"


async def _probe(frame: Frame, selector: str, target: ElementHandle) -> tuple[int, int]:
    """(number of matches, index of the target among them or -1); (0, -1) for invalid selectors."""
    from playwright.async_api import Error as PlaywrightError

    try:
        count, index = await frame.locator(selector).evaluate_all(_MATCHES_JS, target)
    except PlaywrightError:
        return 0, -1
    return int(count), int(index)


async def build_selector(page: Page, target: ElementHandle, fp: ElementFingerprint | None = None) -> SelectorChoice:
    """The most resilient selector that matches exactly ``target`` on the live page.

    Tries :func:`selector_candidates` in order inside the target's own frame and returns the first that
    matches one element, which is ``target``. If none is unique, returns the first candidate made
    unique with ``>> nth=k`` (strategy ``"... nth"``); if even that fails, the XPath with
    ``unique=False``. ``page`` is used to check the final frame-prefixed selector from the top.
    """
    from healing_mcp.components.browser.capture import capture_fingerprint, frame_path

    if fp is None:
        fp = await capture_fingerprint(target)
    frame = await target.owner_frame()
    if frame is None:
        raise LookupError("the target element is not attached to a frame")
    path = await frame_path(frame)
    if path != fp.frame:
        fp = fp.model_copy(update={"frame": path})
    specs = _all_specs(fp)
    fallback: tuple[_Spec, int] | None = None
    for spec in specs:
        count, index = await _probe(frame, spec.selector, target)
        if count == 1 and index == 0:
            choice = _with_frame(fp, spec, True)
            if not path or await _unique_from_top(page, choice.selector, target):
                return choice
        elif count > 1 and index >= 0 and fallback is None:
            fallback = (spec, index)
    if fallback is not None:
        spec, index = fallback
        return _with_frame(fp, _Spec(f"{spec.strategy} nth", f"{spec.selector} >> nth={index}"), True)
    return _with_frame(fp, _Spec("xpath", f"xpath={fp.xpath}"), False)


async def _unique_from_top(page: Page, selector: str, target: ElementHandle) -> bool:
    count, index = await _probe(page.main_frame, selector, target)
    return count == 1 and index == 0


async def keep_frame_chain(page: Page, choice: SelectorChoice, target: ElementHandle, frames: str) -> SelectorChoice:
    """``choice`` reached through ``frames`` (the frame chain the agent's own selector used) when that
    chain still leads to ``target``'s frame, so a heal changes only what broke and a source patch only
    the broken literal. Otherwise ``choice`` unchanged."""
    head, sep, leaf = choice.selector.rpartition(ENTER_FRAME)
    if not sep or not frames or head == frames:
        return choice
    candidate = _choice(frames, _Spec(choice.strategy, leaf), choice.unique)
    return candidate if await _unique_from_top(page, candidate.selector, target) else choice
