"""Parse a failed selector into what it says about its target (:func:`parse_selector`).

Understands CSS (the last compound of the first selector of a list), XPath (the last step, ``@attr=``,
``text()=``, ``contains()``), Playwright engines (``text=``, ``role=button[name="x"]``, ``internal:label``,
``internal:testid``, ``internal:attr``, ``data-testid=``, ``id=``...) and ``>>`` chains: the last part
describes the target, earlier parts where it is (``#product-9 >> text=Add`` puts it inside #product-9,
``tr:has-text("Ann") >> text=Edit`` in a row that mentions Ann), and a ``internal:control=enter-frame``
part gives the frame path. Never raises: unparseable input gives empty hints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from healing_mcp.components.browser.fingerprint import ElementFingerprint
from healing_mcp.components.browser.matching.text import ident_tokens, text_tokens

__all__ = ["SelectorHints", "parse_selector"]


@dataclass
class SelectorHints:
    """What a selector says about its target. Empty strings mean "not said"."""

    tag: str = ""
    id: str = ""
    classes: list[str] = field(default_factory=list)
    test_id: str = ""
    role: str = ""
    name: str = ""
    text: str = ""
    label: str = ""
    placeholder: str = ""
    alt: str = ""
    title: str = ""
    href: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    words: list[str] = field(default_factory=list)
    frame: str = ""
    scope_texts: list[str] = field(default_factory=list)  # :has-text() of enclosing chain parts
    scope_words: list[str] = field(default_factory=list)  # ids and classes of enclosing chain parts
    scope_ids: list[str] = field(default_factory=list)  # ids of enclosing chain parts, as written

    def is_empty(self) -> bool:
        return not (
            self.tag or self.id or self.classes or self.test_id or self.role or self.name or self.text
            or self.label or self.placeholder or self.alt or self.title or self.href or self.attributes
            or self.words or self.scope_texts or self.scope_words
        )  # fmt: skip

    def to_fingerprint(self) -> ElementFingerprint:
        """A partial fingerprint holding only what the selector encodes."""
        return ElementFingerprint(
            tag=self.tag,
            id=self.id,
            classes=list(self.classes),
            test_id=self.test_id,
            role=self.role,
            accessible_name=self.name or self.label,
            text=self.text,
            placeholder=self.placeholder,
            alt=self.alt,
            title=self.title,
            href=self.href,
            name=self.attributes.get("name", ""),
            type=self.attributes.get("type", ""),
            attributes={k: v for k, v in self.attributes.items() if k not in ("name", "type")},
            neighbor_texts=list(self.scope_texts),
            frame=self.frame,
        )


_TEST_ID_ATTRS = ("data-testid", "data-test-id", "data-test", "data-qa", "data-cy")
_ENGINE = re.compile(r"^(internal:)?([a-z][\w-]*)=(.*)$", re.S)
_CSS_ATTR = re.compile(
    r"""\[\s*([\w:-]+)\s*(?:([*^$~|]?=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\]\s]*)\s*([is])?\s*)?\]"""
)
_CSS_PSEUDO_TEXT = re.compile(r""":(has-text|text|text-is|text-matches)\(\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""")
_XPATH_EQ = re.compile(r"""(@[\w:-]+|text\(\)|normalize-space\([^)]*\)|\.)\s*=\s*("[^"]*"|'[^']*')""")
_XPATH_CONTAINS = re.compile(
    r"""(?:contains|starts-with)\(\s*(@[\w:-]+|text\(\)|normalize-space\([^)]*\)|\.)\s*,\s*("[^"]*"|'[^']*')\s*\)"""
)


def _unquote(value: str) -> str:
    """Strip Playwright/CSS quotes and the ``i`` / ``s`` case flag from a selector value."""
    value = value.strip()
    if len(value) >= 3 and value[-1] in "is" and value[-2] in "\"'":
        value = value[:-1]
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _split_outside(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside quotes, brackets and parentheses."""
    parts: list[str] = []
    depth = 0
    quote = ""
    start = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
        elif depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            i += len(sep)
            start = i
            continue
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _apply_attribute(hints: SelectorHints, name: str, op: str, value: str) -> None:
    name = name.lower()
    if op in ("", None):
        return
    if op != "=":  # partial match: keep the words, not the value
        hints.words.extend(ident_tokens(value) or text_tokens(value))
        if name == "href":
            hints.href = hints.href or value
        return
    if name in _TEST_ID_ATTRS:
        hints.test_id = value
    elif name == "id":
        hints.id = value
    elif name == "class":
        hints.classes.extend(value.split())
    elif name == "role":
        hints.role = value
    elif name == "aria-label":
        hints.name = value
    elif name == "placeholder":
        hints.placeholder = value
    elif name == "alt":
        hints.alt = value
    elif name == "title":
        hints.title = value
    elif name == "href":
        hints.href = value
    else:
        hints.attributes[name] = value


def _parse_css(selector: str, hints: SelectorHints) -> None:
    first = _split_outside(selector, ",")[0] if selector else ""
    compounds = re.split(r"\s*[>+~]\s*|\s+(?![^\[]*\])(?![^(]*\))", first)
    compounds = [c for c in compounds if c]
    if not compounds:
        return
    last = compounds[-1]
    for match in _CSS_PSEUDO_TEXT.finditer(last):
        hints.text = _unquote(match.group(2))
    for match in _CSS_ATTR.finditer(last):
        _apply_attribute(hints, match.group(1), match.group(2) or "", _unquote(match.group(3) or ""))
    bare = _CSS_ATTR.sub("", last)
    bare = re.sub(r":[\w-]+(\((?:[^()]|\([^()]*\))*\))?", "", bare)
    tag = re.match(r"^[a-zA-Z][\w-]*", bare)
    if tag:
        hints.tag = tag.group(0).lower()
    for ident in re.findall(r"#((?:\\.|[\w-])+)", bare):
        hints.id = re.sub(r"\\(.)", r"\1", ident)
    for cls in re.findall(r"\.((?:\\.|[\w-])+)", bare):
        hints.classes.append(re.sub(r"\\(.)", r"\1", cls))


def _parse_xpath(selector: str, hints: SelectorHints) -> None:
    path = selector.strip()
    if path.startswith("("):
        path = re.sub(r"^\(+|\)\s*\[\d+\]$|\)+$", "", path)
    steps = _split_outside(path, "/")
    if not steps:
        return
    last = steps[-1]
    tag = re.match(r"^(?:[\w-]+::)?([a-zA-Z][\w-]*|\*)", last)
    if tag and tag.group(1) != "*":
        hints.tag = tag.group(1).lower()
    for match in _XPATH_EQ.finditer(last):
        target, value = match.group(1), match.group(2)[1:-1]
        if target.startswith("@"):
            _apply_attribute(hints, target[1:], "=", value)
        else:
            hints.text = value
    for match in _XPATH_CONTAINS.finditer(last):
        target, value = match.group(1), match.group(2)[1:-1]
        if target == "@class":
            hints.classes.extend(value.split())
        elif target.startswith("@"):
            _apply_attribute(hints, target[1:], "*=", value)
        else:
            hints.text = hints.text or value


def _parse_part(part: str, hints: SelectorHints) -> None:
    if part.startswith(("/", "(/", "..")):
        _parse_xpath(part, hints)
        return
    engine = _ENGINE.match(part)
    if not engine:
        _parse_css(part, hints)
        return
    kind, body = engine.group(2), engine.group(3).strip()
    if kind == "css":
        _parse_css(body, hints)
    elif kind == "xpath":
        _parse_xpath(body, hints)
    elif kind in ("text", "has-text"):
        hints.text = _unquote(body)
    elif kind == "role":
        role = re.match(r"^([\w-]+)", body)
        if role:
            hints.role = role.group(1).lower()
        name = re.search(r"""\[\s*name\s*=\s*("(?:[^"\\]|\\.)*"[is]?|'(?:[^'\\]|\\.)*'[is]?|[^\]]*)\]""", body)
        if name:
            hints.name = _unquote(name.group(1))
    elif kind == "testid":
        for match in _CSS_ATTR.finditer(body):
            hints.test_id = _unquote(match.group(3) or "")
    elif kind in _TEST_ID_ATTRS:
        hints.test_id = _unquote(body)
    elif kind == "id":
        hints.id = _unquote(body)
    elif kind == "label":
        hints.label = _unquote(body)
    elif kind in ("placeholder", "alt", "title"):
        _apply_attribute(hints, kind, "=", _unquote(body))
    elif kind == "attr":
        for match in _CSS_ATTR.finditer(body):
            _apply_attribute(hints, match.group(1), "=", _unquote(match.group(3) or ""))
    # nth=, visible=, has=, control=... say nothing about the target itself


@lru_cache(maxsize=4096)
def _parse_selector_cached(selector: str) -> SelectorHints:
    hints = SelectorHints()
    parts = _split_outside(selector, ">>")
    target_parts: list[str] = []
    for i, part in enumerate(parts):
        if part.replace(" ", "") in ("internal:control=enter-frame", "control=enter-frame"):
            hints.frame = " >> internal:control=enter-frame >> ".join(
                p for p in parts[:i] if not p.startswith("internal:control")
            )
            target_parts = []
            continue
        if re.match(r"^(nth|visible)=", part):
            continue
        target_parts.append(part)
    # Earlier parts of a chain describe where the target is (a row, a card): evidence about its
    # surroundings and ancestors, not about the target itself.
    for part in target_parts[:-1]:
        scope = SelectorHints()
        _parse_part(part, scope)
        hints.scope_words.extend(ident_tokens(scope.id))
        if scope.id:
            hints.scope_ids.append(scope.id)
        for cls in scope.classes:
            hints.scope_words.extend(ident_tokens(cls))
        hints.scope_texts.extend(t for t in (scope.text, scope.name, scope.label) if t)
    if target_parts:
        _parse_part(target_parts[-1], hints)
    hints.words.extend(ident_tokens(hints.id))
    hints.words.extend(ident_tokens(hints.test_id))
    for cls in hints.classes:
        hints.words.extend(ident_tokens(cls))
    for key, value in hints.attributes.items():
        if key in ("name", "for") or key.startswith(("data-", "aria-")):
            hints.words.extend(ident_tokens(value))
    hints.words = list(dict.fromkeys(w for w in hints.words if w))
    hints.scope_words = list(dict.fromkeys(w for w in hints.scope_words if w))
    return hints


def parse_selector(selector: str) -> SelectorHints:
    """Parse a CSS, XPath or Playwright selector into :class:`SelectorHints` (never raises)."""
    try:
        cached = _parse_selector_cached(selector.strip())
    except (re.error, IndexError, ValueError):
        return SelectorHints()
    return SelectorHints(
        **{**cached.__dict__, "classes": list(cached.classes), "attributes": dict(cached.attributes),
           "words": list(cached.words), "scope_texts": list(cached.scope_texts),
           "scope_words": list(cached.scope_words), "scope_ids": list(cached.scope_ids)}
    )  # fmt: skip
