"""What kind of element a fingerprint describes, and how two kinds compare.

Small pure helpers over fingerprint fields, shared by the query, the scorer and the decision: related
tags and roles, stable classes, identity-bearing attributes, link targets without host, and the
hand-written ids of ancestors (the records an element belongs to, ``li#comment-104``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from healing_mcp.components.browser.fingerprint import ElementFingerprint
from healing_mcp.components.browser.matching.text import (
    GENERATED_ID_PATTERNS,
    STATE_CLASSES,
    ident_tokens,
    is_random_id,
    text_tokens,
)

_TAG_GROUPS: list[tuple[frozenset[str], float]] = [
    (frozenset({"a", "button"}), 0.5),
    (frozenset({"div", "section", "article", "main", "aside", "nav", "header", "footer", "span", "p"}), 0.5),
    (frozenset({"h1", "h2", "h3", "h4", "h5", "h6"}), 0.7),
    (frozenset({"input", "textarea", "select"}), 0.4),
    (frozenset({"ul", "ol", "menu"}), 0.7),
    (frozenset({"td", "th"}), 0.7),
    (frozenset({"span", "label", "strong", "b", "em", "i", "small"}), 0.5),
    (frozenset({"img", "svg", "picture"}), 0.6),
]
ACTIONABLE_ROLES = frozenset(
    {"button", "link", "textbox", "searchbox", "combobox", "listbox", "checkbox", "radio", "switch", "slider",
     "spinbutton", "tab", "menuitem", "menuitemcheckbox", "menuitemradio", "option", "treeitem"}
)  # fmt: skip
ACTIONABLE_TAGS = frozenset({"a", "button", "input", "select", "textarea", "summary"})
FORM_CONTROLS = frozenset({"input", "select", "textarea", "meter", "progress", "output"})
_ROLE_GROUPS: list[frozenset[str]] = [
    frozenset({"textbox", "searchbox", "combobox"}),
    frozenset({"button", "link", "menuitem", "tab"}),
    frozenset({"checkbox", "switch", "radio"}),
    frozenset({"cell", "gridcell", "columnheader", "rowheader"}),
]
# How much an equal / differing attribute says (ids of form fields matter more than styling hooks).
ATTR_WEIGHT = {"name": 2.0, "type": 1.0, "placeholder": 1.5, "aria_label": 1.5, "alt": 1.5, "title": 1.0,
                "value": 1.0, "for": 1.0, "src": 1.0, "action": 1.0}  # fmt: skip
_VOLATILE_ATTRS = frozenset({"style", "tabindex", "aria-expanded", "aria-selected", "aria-hidden",
                             "aria-checked", "aria-pressed", "data-state", "data-reactid", "autocomplete"})  # fmt: skip


@lru_cache(maxsize=16384)
def tag_similarity(a: str, b: str) -> float:
    if a == b:
        return 1.0
    best = 0.0
    for group, value in _TAG_GROUPS:
        if a in group and b in group:
            best = max(best, value)
    return best


def role_similarity(a: str, b: str) -> float:
    if a == b:
        return 1.0
    if not b:
        return 0.0
    return 0.6 if any(a in g and b in g for g in _ROLE_GROUPS) else 0.0


def stable_classes(classes: Sequence[str]) -> frozenset[str]:
    return frozenset(c for c in classes if c not in STATE_CLASSES and not is_random_id(c))


def class_tokens(classes: frozenset[str]) -> frozenset[str]:
    return frozenset(t for c in classes for t in ident_tokens(c))


def attr_map(fp: ElementFingerprint) -> dict[str, str]:
    out = {k: v for k, v in fp.attributes.items() if k not in _VOLATILE_ATTRS and not k.startswith("on")}
    for key in ("name", "type", "placeholder", "aria_label", "alt", "title", "value"):
        value = getattr(fp, key)
        if value:
            out[key] = value
    return out


_DIGITS = re.compile(r"\d+")


def other_record(path: str, other: str) -> bool:
    """The same route with other numbers: ``/users/3`` and ``/users/7``."""
    return path != other and _DIGITS.sub("0", path) == _DIGITS.sub("0", other)


def href_key(href: str) -> tuple[str, tuple[str, ...]]:
    """An href without scheme and host, plus its path words."""
    value = re.sub(r"^[a-z]+://[^/]+", "", href.strip(), flags=re.I)
    value = value.split("#", 1)[0] if not value.startswith("#") else value
    return value, tuple(t for t in re.split(r"[/?&=.#_-]+", value.lower()) if t and not t.isdigit())


def ancestor_tag(summary: str) -> str:
    return re.split(r"[#.]", summary, maxsplit=1)[0] if summary != "#shadow-root" else summary


def ancestor_ids(ancestors: Sequence[str]) -> frozenset[str]:
    """Ids of the ancestors (``li#comment-104.comment`` -> ``comment-104``) that name a record or a
    region: generated ids are left out, numbered ones kept (they name the record shown)."""
    out = set()
    for summary in ancestors:
        if "#" in summary and summary != "#shadow-root":
            ident = summary.split("#", 1)[1].split(".", 1)[0]
            if ident and not any(p.search(ident) for p in GENERATED_ID_PATTERNS):
                out.add(ident)
    return frozenset(out)


def region_of(ancestors: Sequence[str]) -> str:
    """The nearest ancestor that names a region of the page (``ol.breadcrumb``, ``nav#main``,
    ``article#product-9``): a hand-written id or a stable class. "" when there is none."""
    for summary in ancestors:
        if summary in ("body", "html", "#shadow-root"):
            continue
        ident, classes = _summary_parts(summary)
        if ident or classes:
            return summary
    return ""


def _summary_parts(summary: str) -> tuple[str, frozenset[str]]:
    """Hand-written id and stable classes of an ancestor summary ``tag#id.class1.class2``."""
    head, *classes = summary.split(".")
    ident = head.split("#", 1)[1] if "#" in head else ""
    if ident and any(p.search(ident) for p in GENERATED_ID_PATTERNS):
        ident = ""
    return ident, stable_classes(classes)


def in_region(region: str, ancestors: Sequence[str]) -> bool:
    """An element with these ancestors is inside ``region`` (any element of that kind), or inside a
    renamed copy of it: same tag, and the same id or every word of its classes still there
    (``div.field`` -> ``div.field-wrap``)."""
    if region in ancestors:
        return True
    tag = ancestor_tag(region)
    ident, classes = _summary_parts(region)
    words = class_tokens(classes)
    for summary in ancestors:
        if ancestor_tag(summary) != tag:
            continue
        other_id, other_classes = _summary_parts(summary)
        if (ident and ident == other_id) or (words and words <= class_tokens(other_classes)):
            return True
    return False


def neighbor_tokens(texts: Sequence[str]) -> frozenset[str]:
    return frozenset(tok for text in texts for tok in text_tokens(text))
