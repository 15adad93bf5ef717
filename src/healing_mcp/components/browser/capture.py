"""Capture element fingerprints from a live page (Playwright, async API).

- :func:`capture_fingerprint` records one element (after a successful action) as an
  :class:`~healing_mcp.components.browser.fingerprint.ElementFingerprint`; :func:`capture_target` does
  the same for what a locator matches right now, in one round trip for elements of the main frame (what
  the wrapper runs on every action).
- :func:`capture_candidates` records every plausible target of a page (after a selector failed): in the
  main frame, in every iframe (``page.frames``) and inside open shadow roots, with one ``evaluate``
  round-trip per frame.
- :func:`candidate_handle` turns a :class:`Candidate` back into an ``ElementHandle`` to act on it.

What goes into the less obvious fields (computed in the page, see ``capture.js``):

- ``accessible_name``: aria-labelledby, aria-label, the control's ``<label>``, button values, alt,
  legend/caption, text content for roles named from content, title, placeholder (in that order).
- ``role``: the explicit role, else the implicit ARIA role of common tags and input types.
- ``neighbor_texts``: the control's label; the nearest textual previous and next siblings (of the
  element, or of its closest ancestor that has some); the text of its record (the nearest ancestor that
  repeats with the same tag and class under its parent: a table row, card, list item, form group),
  without the element's own text; and the nearest preceding heading. Long texts are cut at a word.
- ``text``: innerText (textContent for hidden elements), whitespace collapsed, at most 200 characters.
- ``test_id`` / ``test_id_attribute``: the value and the name of the first test id attribute present
  (``data-testid``, ``data-test-id``, ``data-test``, ``data-qa``, ``data-cy``); that attribute is left
  out of ``attributes``.

The in-page code lives in ``capture.js`` next to this module. It writes nothing into the user's DOM: the
candidate elements of the last capture are kept in one Symbol-keyed, non-enumerable window property so
a candidate index can be resolved later; a per-capture token guards against resolving an index from an
older capture.

Frame paths
-----------
``Candidate.frame`` and ``ElementFingerprint.frame`` hold a *frame path*: "" for the main frame, else a
Playwright selector chain that reaches the iframe element, e.g. ``iframe[name="pay"]`` or, for nested
frames, ``iframe[name="a"] >> internal:control=enter-frame >> iframe[title="Card"]``. Appending
``" >> internal:control=enter-frame >> " + selector`` gives a page-level selector for an element inside.
Bounding boxes of elements in iframes are shifted by the iframe's position, so every bbox is in main-page
coordinates.

Playwright is imported lazily: importing this module costs nothing at server start.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from healing_mcp.components.browser.fingerprint import ElementFingerprint

if TYPE_CHECKING:
    from playwright.async_api import ElementHandle, Frame, Locator, Page

__all__ = [
    "ENTER_FRAME",
    "Candidate",
    "candidate_handle",
    "capture_candidates",
    "capture_fingerprint",
    "capture_target",
    "frame_path",
]

ENTER_FRAME = " >> internal:control=enter-frame >> "

# Picks a selector for an <iframe> element that is unique in its own document. Prefers what a person
# would recognise (name, id, title, src) and falls back to Playwright's nth= over all iframes.
_IFRAME_SELECTOR_JS = """
(el) => {
  const root = el.getRootNode();
  const q = (s) => { try { return root.querySelectorAll(s).length; } catch (e) { return 0; } };
  const esc = (v) => v.replace(/\\\\/g, "\\\\\\\\").replace(/"/g, '\\\\"');
  const tag = el.localName;
  for (const attr of ["name", "id", "title", "src"]) {
    const v = el.getAttribute(attr);
    if (v) {
      const css = `${tag}[${attr}="${esc(v)}"]`;
      if (q(css) === 1) return css;
    }
  }
  const all = Array.from(root.querySelectorAll(tag));
  return `${tag} >> nth=${all.indexOf(el)}`;
}
"""


@cache
def _script_source() -> str:
    return resources.files("healing_mcp.components.browser").joinpath("capture.js").read_text("utf-8")


@cache
def _script(params: str, call: str) -> str:
    """The capture script wrapped as a function expression ``(params) => healingCapture.<call>``."""
    return f"({params}) => {{\n{_script_source()}\nreturn healingCapture.{call};\n}}"


@dataclass(frozen=True, slots=True)
class Candidate:
    """One element of a captured page: its fingerprint and how to reach it again.

    ``index`` points into the registry that the capture left in the frame; ``token`` identifies that
    capture. ``frame`` is the frame path (see module docstring).
    """

    fingerprint: ElementFingerprint
    frame: str
    index: int
    token: str
    live_frame: Frame | None = field(default=None, repr=False, compare=False)


async def frame_path(frame: Frame) -> str:
    """The frame path of ``frame``: "" for a main frame, else a selector chain reaching its iframe."""
    parts: list[str] = []
    current: Frame | None = frame
    while current is not None and current.parent_frame is not None:
        element = await current.frame_element()
        parts.append(await element.evaluate(_IFRAME_SELECTOR_JS))
        current = current.parent_frame
    return ENTER_FRAME.join(reversed(parts))


async def _frame_offset(frame: Frame) -> tuple[float, float]:
    """Where ``frame``'s content starts in main-page coordinates ((0, 0) for the main frame)."""
    if frame.parent_frame is None:
        return 0.0, 0.0
    element = await frame.frame_element()
    box = await element.bounding_box()
    if box is None:
        return 0.0, 0.0
    scroll = await frame.page.main_frame.evaluate("() => [window.scrollX, window.scrollY]")
    # The iframe's border sits between its box and its content; read it to place content exactly.
    border = await element.evaluate(
        "(el) => { const s = getComputedStyle(el); return [parseFloat(s.borderLeftWidth) || 0,"
        " parseFloat(s.borderTopWidth) || 0, parseFloat(s.paddingLeft) || 0, parseFloat(s.paddingTop) || 0]; }"
    )
    return (
        box["x"] + float(scroll[0]) + float(border[0]) + float(border[2]),
        box["y"] + float(scroll[1]) + float(border[1]) + float(border[3]),
    )


_STRING_FIELDS = ("tag", "id", "name", "type", "role", "accessible_name", "text", "aria_label", "placeholder",
                  "alt", "title", "href", "value", "test_id")  # fmt: skip


def _unpack(payload: str) -> list[dict[str, Any]]:
    """Rows packed by ``pack()`` in capture.js back into fingerprint dicts."""
    data = json.loads(payload)
    strings: list[str] = data["strings"]
    url: str = data["url"]
    out: list[dict[str, Any]] = []
    for row in data["rows"]:
        (tag, id_, classes, name, type_, role, acc, text, aria, placeholder, alt, title, href, value, test_id,
         attrs, xp_parent, xp_seg, index_path, ancestors, neighbors, bbox, visible, enabled,
         test_id_attr) = row  # fmt: skip
        record: dict[str, Any] = {
            key: strings[i]
            for key, i in zip(
                _STRING_FIELDS,
                (tag, id_, name, type_, role, acc, text, aria, placeholder, alt, title, href, value, test_id),
                strict=True,
            )
        }
        record["classes"] = [strings[i] for i in classes]
        record["attributes"] = {strings[attrs[i]]: strings[attrs[i + 1]] for i in range(0, len(attrs), 2)}
        record["xpath"] = f"{strings[xp_parent]}/{strings[xp_seg]}"
        record["index_path"] = index_path
        record["ancestors"] = [strings[i] for i in ancestors]
        record["neighbor_texts"] = [strings[i] for i in neighbors]
        record["bbox"] = bbox
        record["visible"] = bool(visible)
        record["enabled"] = bool(enabled)
        record["test_id_attribute"] = strings[test_id_attr]
        record["url"] = url
        out.append(record)
    return out


def _to_fingerprint(raw: dict[str, Any], frame: str, offset: tuple[float, float]) -> ElementFingerprint:
    raw["frame"] = frame
    bbox = raw.get("bbox")
    if bbox and offset != (0.0, 0.0):
        raw["bbox"] = [bbox[0] + offset[0], bbox[1] + offset[1], bbox[2], bbox[3]]
    return ElementFingerprint.model_validate(raw)


async def capture_fingerprint(target: ElementHandle | Locator) -> ElementFingerprint:
    """Fingerprint one element (an ``ElementHandle`` or a ``Locator`` resolving to one element)."""
    from playwright.async_api import Locator

    # A Locator is resolved first (strict: it must match exactly one element).
    handle = await target.element_handle() if isinstance(target, Locator) else target
    raw = await handle.evaluate(_script("target", "one(target)"), {})
    frame = await handle.owner_frame()
    if frame is None:
        return _to_fingerprint(raw, "", (0.0, 0.0))
    return _to_fingerprint(raw, await frame_path(frame), await _frame_offset(frame))


@cache
def _target_script() -> str:
    # Elements of iframes need their frame path and offset, which only the handle route computes.
    return (
        "(els, strict) => {\n"
        "if (!els.length || (strict && els.length !== 1)) return null;\n"
        'if (window !== window.top) return "framed";\n'
        f"{_script_source()}\nreturn healingCapture.one(els[0]);\n}}"
    )


async def capture_target(locator: Locator, *, strict: bool = True) -> ElementFingerprint | None:
    """Fingerprint what ``locator`` matches right now, without waiting for it: None when it matches
    nothing (or, with ``strict``, more than one element). One round trip in the main frame."""
    raw = await locator.evaluate_all(_target_script(), strict)
    if raw is None:
        return None
    if raw == "framed":
        handles = await locator.element_handles()
        return await capture_fingerprint(handles[0]) if handles else None
    return _to_fingerprint(raw, "", (0.0, 0.0))


async def capture_candidates(page: Page, *, limit: int = 5000) -> list[Candidate]:
    """Fingerprint every plausible target element of ``page`` (all frames, open shadow roots).

    Plausible targets: interactive elements (links, buttons, form controls, summary, label), images and
    media, headings, table cells, list items, elements with a role, tabindex, click handler attribute,
    accessible label, title, alt, placeholder or test id, and any element with text of its own. Main
    frame first, then iframes in ``page.frames`` order; at most ``limit`` candidates overall. Frames that
    go away during the capture are skipped.
    """
    from playwright.async_api import Error as PlaywrightError

    token = secrets.token_hex(8)
    out: list[Candidate] = []
    for frame in page.frames:
        remaining = limit - len(out)
        if remaining <= 0:
            break
        if frame.is_detached():
            continue
        try:
            path = await frame_path(frame)
            offset = await _frame_offset(frame)
            payload = await frame.evaluate(
                _script("options", "candidates(options)"), {"token": token, "limit": remaining}
            )
        except PlaywrightError:
            continue  # detached or navigating while we looked; its elements are not actionable anyway
        for index, raw in enumerate(_unpack(payload)):
            out.append(Candidate(_to_fingerprint(raw, path, offset), path, index, token, frame))
    return out


async def candidate_handle(page: Page, candidate: Candidate) -> ElementHandle:
    """The live element of ``candidate``; raises ``LookupError`` if it is gone or the page was recaptured."""
    frame = candidate.live_frame
    if frame is None or frame.is_detached():
        frame = await _find_frame(page, candidate.frame)
    handle = await frame.evaluate_handle(
        _script("options", "lookup(options)"), {"token": candidate.token, "index": candidate.index}
    )
    element = handle.as_element()
    if element is None:
        await handle.dispose()
        raise LookupError(f"candidate {candidate.index} of capture {candidate.token} is no longer in the page")
    return element


async def _find_frame(page: Page, path: str) -> Frame:
    for frame in page.frames:
        if not frame.is_detached() and await frame_path(frame) == path:
            return frame
    raise LookupError(f"frame {path!r} is no longer in the page")
