"""Re-find an element after a page changed: rank candidates against a stored fingerprint.

Pure Python, no browser: the inputs are :class:`~healing_mcp.components.browser.fingerprint.ElementFingerprint`
records, wherever they were captured (``capture.py`` here, or any other tool that fills the same fields).

Entry point
-----------
``match_element(stored, candidates, *, failed_selector=None, threshold=DEFAULT_THRESHOLD,
min_margin=DEFAULT_MIN_MARGIN) -> MatchResult``

- ``stored``: the fingerprint recorded when the action last succeeded, or ``None`` when there was no
  reference run. Then a partial fingerprint is derived from ``failed_selector`` (see
  :func:`parse_selector`: CSS, XPath, Playwright ``text=`` / ``role=`` / ``internal:*`` engines, ``>>``
  chains) and matched on what the selector encodes; ``#login-btn`` contributes the words "login" and
  "button", ``text=Sign in`` the text, ``tr:has-text("Ann") >> text=Edit`` the text and the row's text.
- ``candidates``: fingerprints of every plausible element of the current page.
- ``failed_selector``: the selector that stopped working; with ``stored`` it is extra (weak) evidence.
- Returns :class:`MatchResult`: ``healed``, ``index`` into ``candidates`` (None unless healed),
  calibrated ``confidence``, a plain-words ``reason``, the refusing ``rule``, the ``margin`` over the
  runner-up and the top few ``ranked`` candidates with their per-feature evidence.

Fingerprint fields used
-----------------------
All optional except ``tag``; a feature takes part only when the stored side has its data (a stored
element without text says nothing about text), so the score is ``sum(w * s) / sum(w)`` over the
features that apply, each similarity ``s`` in [0, 1]:

==============  ======  =======================================================================
feature         weight  fingerprint fields and similarity
==============  ======  =======================================================================
test_id         4.0     ``test_id``: equal 1; token similarity x 0.7 (renamed test ids)
id              2.5     ``id`` when it looks hand-written, 0.6 when generated (:func:`is_random_id`):
                        equal 1; token similarity x 0.7
text            3.0     ``accessible_name`` against ``accessible_name``, ``text`` against ``text``
                        (averaged): normalised equality 1, else fuzzy token similarity x 0.95
                        (UI synonyms, "log in" = "login", one-edit typos, plurals)
unique_label    1.5     only when exactly one candidate of the stored kind carries the stored label
neighbors       2.0     ``neighbor_texts``: 0.6 x IDF^2-weighted share of the stored words found
                        around the candidate (IDF over the candidates: words around every row weigh
                        nothing, a person's name a lot) + 0.4 x share of whole texts found verbatim.
                        x (1 + ln k), at most x3, when k >= 2 candidates carry the stored label
attributes      1.2     ``name``, ``type``, ``placeholder``, ``aria_label``, ``alt``, ``title``, ``value``,
                        ``attributes``: per attribute, same value 1, changed value 0.2-0.4
href            1.2     ``href`` without host: equal 1; same route with other numbers 0.1 (another
                        record); else path words x 0.8
classes         1.2     ``classes`` minus state and generated classes: Jaccard, or class-word
                        Jaccard x 0.8 (``btn-primary`` vs ``btn__primary``)
records         1.0     hand-written ids in ``ancestors`` (``li#comment-104``) the candidate also has
tag, role       1.0     ``tag`` (related tags 0.4-0.7), ``role`` (related roles 0.6)
ancestors       1.0     ``ancestors``: LCS of ancestor tags and exact ancestor overlap
position        1.0     ``index_path`` (so ``xpath``): shared prefix, same depth
bbox            0.7     ``bbox``: centre distance (1 / (1 + (d / 150 px)^2)) and size ratio
visible, frame  0.5     ``visible`` agrees; ``frame`` path equal
selector        0.8     words of ``failed_selector`` found among the candidate's words (3.0 without
                        a stored fingerprint)
scope           1.5     without a stored fingerprint: words of the selector's enclosing parts
                        (``#product-9 >> ...``) in the candidate's ancestors' ids and classes
actionable      0.3     without a stored fingerprint and without tag or role in the selector:
                        links, buttons and form controls are preferred
==============  ======  =======================================================================

The weights were set by reasoning (what survives a redesign, what tells look-alikes apart) and then
adjusted on the development sets of ``benchmarks/browser_healing``; its held-out set was generated
afterwards and never used to tune.

Decision: no silent wrong heals
-------------------------------
The best candidate is accepted only if all of these hold, else ``healed`` is False, ``index`` None,
and ``rule`` / ``reason`` say why:

1. ``threshold``: its score reaches the threshold (default 0.5);
2. ``ambiguous``: it leads the runner-up by ``min_margin`` (default 0.05). Elements nested in or
   around the best one with the same label (the ``<span>`` inside a ``<button>``) are not rivals;
3. ``unconfirmed`` (with a stored fingerprint, unless a test id, hand-written id, link target or field
   name that no other candidate shares vouches for it):

   - several candidates carry the stored label and the best one's surroundings match less than
     ``MIN_CONTEXT``: picking one would be a guess by position;
   - its label changed (text < 0.9) and its surroundings do not confirm it word for word (the less
     the label agrees, the more is needed), or it was one of the target's neighbours;
   - its label changed and it is another kind of element, or it shares neither tag nor role;
   - the target's container (an ancestor with a hand-written id) is still on the page but the
     candidate is outside it;
4. ``selector`` (without a stored fingerprint): the selector's tag, role or label kind fits the
   candidate, it leads by ``SELECTOR_MIN_MARGIN``, and the selector clearly names it (its text, test id
   or id nearly equal; or all the selector's words on the candidate and none of the candidate's own
   identifiers unexplained);
5. ``hidden`` / ``disabled``: it is visible and enabled (unless the stored element itself was not).

Confidence
----------
``confidence = 1 / (1 + exp(-(A * score + B * margin + C + D * unconfirmed)))``: the probability that
the top candidate is the right element, increasing in the score and the margin and much lower when a
consistency check failed. A, B, C and D are a logistic regression fitted on the development sets
(``python -m benchmarks.browser_healing --calibrate``) and frozen below; the benchmark prints a
reliability table for the held-out set.

Speed
-----
Identity features (test id, id, text, tag, href, neighbours) are computed for every candidate through
per-call memo tables (pages repeat values a lot); the others only while a candidate's optimistic bound
can still reach the top ranks. The ranking is exactly what scoring every candidate fully would give.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from pydantic import BaseModel, Field

from healing_mcp.components.browser.fingerprint import ElementFingerprint

__all__ = [
    "DEFAULT_MIN_MARGIN",
    "DEFAULT_THRESHOLD",
    "MatchResult",
    "ScoredCandidate",
    "SelectorHints",
    "confidence_of",
    "is_random_id",
    "match_element",
    "parse_selector",
    "score_candidates",
]

DEFAULT_THRESHOLD = 0.5
DEFAULT_MIN_MARGIN = 0.05
# Among look-alikes (several candidates with the stored label), the best must share at least this much
# of the stored neighbour texts (IDF-weighted); otherwise the heal would be a guess by position.
MIN_CONTEXT = 0.6
# A candidate whose label differs from the stored one needs this much of the stored surroundings (or an
# identity attribute) to be trusted: otherwise it is merely an element in a similar place.
MIN_CONTEXT_RELABELLED = 0.6

# Logistic calibration (see module docstring), fitted on the development sets of the benchmark.
CALIBRATION_A = 5.32
CALIBRATION_B = 11.75
CALIBRATION_C = -2.47
CALIBRATION_D = -3.88  # added when the best candidate failed a consistency check (unconfirmed)

TOP_K = 4  # candidates ranked exactly and reported in MatchResult.ranked

W_TEST_ID = 4.0
W_ID_STABLE = 2.5
W_ID_RANDOM = 0.6
W_TEXT = 3.0
W_ATTRS = 1.2
W_HREF = 1.2
W_NEIGHBORS = 2.0
W_CLASSES = 1.2
W_TAG = 1.0
W_ROLE = 1.0
W_ANCESTORS = 1.0
W_POSITION = 1.0
W_BBOX = 0.7
W_VISIBLE = 0.5
W_FRAME = 0.5
W_SELECTOR = 0.8
W_SELECTOR_ONLY = 3.0
W_UNIQUE_LABEL = 1.5
W_ACTIONABLE = 0.3
W_SCOPE = 1.5
W_RECORDS = 1.0
# Without a reference run the evidence is thin: the best must lead by more.
SELECTOR_MIN_MARGIN = 0.1
W_NEIGHBOR_WORDS = 0.6  # share of the neighbours feature given to IDF-weighted words (rest: whole texts)


# ------------------------------------------------------------------------------------------- models


class ScoredCandidate(BaseModel):
    index: int
    score: float
    confidence: float
    summary: str = ""
    evidence: dict[str, float] = Field(default_factory=dict)


class MatchResult(BaseModel):
    healed: bool
    index: int | None = None
    confidence: float = 0.0
    reason: str
    ranked: list[ScoredCandidate] = Field(default_factory=list)
    margin: float = 0.0  # score of the best candidate minus the runner-up's (see "Decision")
    confirmed: bool = False  # the best candidate passed the consistency checks (see "Decision")
    rule: str = ""  # "" when healed, else the rule that refused: threshold, ambiguous, unconfirmed,
    # selector, hidden, disabled, no-candidates, no-evidence


# ------------------------------------------------------------------------------------ random ids

_RANDOM_ID_PATTERNS = [
    re.compile(r"^:r[0-9a-z]*:$|^«r[0-9a-z]*»$", re.I),  # React useId
    re.compile(r"^(ember|ext-gen|ext-comp|yui_|gwt-uid-|mui-|rc-|radix-|headlessui-|react-select-)", re.I),
    re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I),  # uuid
    re.compile(r"\d{3,}"),  # counters and timestamps
    re.compile(r"(?=[a-z]*\d)(?=\d*[a-z])[0-9a-z]{6,}$", re.I),  # trailing hash chunk: btn-a8f3k2x
    re.compile(r"(^|[-_:])(?=[^-_:]*[A-Z])(?=[^-_:]*[a-z])(?=[^-_:]*\d)[A-Za-z0-9+/=]{6,}"),  # base64-ish
]


# The patterns above that never name a record (unlike counters such as "comment-104").
_GENERATED_ID_PATTERNS = [_RANDOM_ID_PATTERNS[i] for i in (0, 1, 2, 4, 5)]


@lru_cache(maxsize=8192)
def is_random_id(value: str) -> bool:
    """True if an id or class looks generated (not written by a person), so it will not survive a build.

    Recognises React ``:r3:``, ``ember123``, framework prefixes (mui-, radix-, headlessui-...), uuids,
    runs of 3+ digits, hash chunks (letters and digits mixed, 6+ long) and base64-like chunks. Short
    counters such as ``step-2`` or ``tab1`` count as hand-written.
    """
    if not value:
        return False
    if any(p.search(value) for p in _RANDOM_ID_PATTERNS):
        return True
    digits = sum(c.isdigit() for c in value)
    return len(value) >= 6 and digits / len(value) > 0.4


# --------------------------------------------------------------------------------- text handling

_NON_WORD = re.compile(r"[^\w]+|_")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
# Everyday UI vocabulary: words that name the same action or thing, folded to one form.
_PHRASES: dict[tuple[str, str], str] = {
    ("log", "in"): "signin",
    ("sign", "in"): "signin",
    ("log", "on"): "signin",
    ("sign", "on"): "signin",
    ("sign", "up"): "signup",
    ("create", "account"): "signup",
    ("log", "out"): "signout",
    ("sign", "out"): "signout",
    ("log", "off"): "signout",
    ("e", "mail"): "email",
    ("check", "out"): "checkout",
    ("drop", "down"): "dropdown",
    ("user", "name"): "username",
    ("pass", "word"): "password",
}
_SYNONYMS: dict[str, str] = {
    "login": "signin",
    "logon": "signin",
    "signon": "signin",
    "logout": "signout",
    "logoff": "signout",
    "register": "signup",
    "registration": "signup",
    "btn": "button",
    "img": "image",
    "pic": "image",
    "nav": "navigation",
    "navbar": "navigation",
    "pwd": "password",
    "passwd": "password",
    "pw": "password",
    "msg": "message",
    "qty": "quantity",
    "desc": "description",
    "addr": "address",
    "mail": "email",
    "remove": "delete",
    "basket": "cart",
    "bag": "cart",
    "find": "search",
    "preferences": "settings",
    "prefs": "settings",
    "config": "settings",
    "dismiss": "close",
    "continue": "next",
    "proceed": "next",
    "cb": "checkbox",
    "chk": "checkbox",
    "txt": "text",
    "lbl": "label",
    "cfg": "settings",
    "acct": "account",
}
_STOP = frozenset({"the", "a", "an", "of", "to", "your", "my", "and", "or", "for", "in", "on", "at", "by"})
_ROLE_WORDS: dict[str, str] = {
    "button": "button",
    "submit": "button",
    "link": "link",
    "input": "textbox",
    "field": "textbox",
    "textbox": "textbox",
    "textarea": "textbox",
    "checkbox": "checkbox",
    "radio": "radio",
    "select": "combobox",
    "dropdown": "combobox",
    "combobox": "combobox",
    "image": "img",
    "heading": "heading",
    "title": "heading",
    "tab": "tab",
    "menuitem": "menuitem",
}
_GENERIC_WORDS = frozenset(
    {
        "container", "wrapper", "wrap", "inner", "outer", "item", "col", "row", "main", "box", "section",
        "div", "span", "el", "elem", "element", "component", "primary", "secondary", "lg", "sm", "xs",
        "md", "xl", "large", "small", "default", "js", "ui", "c", "is", "has", "block", "content", "text",
    }
)  # fmt: skip
_STATE_CLASSES = frozenset(
    {
        "active", "is-active", "selected", "is-selected", "open", "is-open", "show", "hidden", "visible",
        "disabled", "focus", "focused", "hover", "current", "collapsed", "expanded", "in", "fade",
    }
)  # fmt: skip


@lru_cache(maxsize=65536)
def normalize_text(text: str) -> str:
    """Lower-case words separated by single spaces; punctuation and symbols dropped, unless the text
    is nothing but symbols (an icon label such as "⋯" or "♡" is a label too)."""
    words = " ".join(_NON_WORD.sub(" ", text.lower()).split())
    return words or " ".join(text.split())


def _singular(word: str) -> str:
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


@lru_cache(maxsize=65536)
def text_tokens(text: str) -> tuple[str, ...]:
    """Canonical word tokens of a text: phrases and synonyms folded, plurals stripped, stop words out."""
    words = _fold_phrases(normalize_text(text).split())
    if len(words) > 1:
        kept = [w for w in words if w not in _STOP]
        words = _fold_phrases(kept) if len(kept) < len(words) else kept
    return tuple(_SYNONYMS.get(w, _singular(w)) for w in words)


def _fold_phrases(words: list[str]) -> list[str]:
    """Two-word phrases with one meaning ("log in", "sign up") become one word."""
    out: list[str] = []
    i = 0
    while i < len(words):
        pair = (words[i], words[i + 1]) if i + 1 < len(words) else None
        if pair in _PHRASES:
            out.append(_PHRASES[pair])
            i += 2
        else:
            out.append(words[i])
            i += 1
    return out


@lru_cache(maxsize=32768)
def ident_tokens(ident: str) -> tuple[str, ...]:
    """Words of an identifier (id, class, test id): split on separators and camelCase, hash chunks out."""
    if not ident:
        return ()
    spaced = _CAMEL.sub(" ", ident)
    parts = [p for p in _NON_WORD.sub(" ", spaced.replace("_", " ")).lower().split() if p]
    out: list[str] = []
    i = 0
    while i < len(parts):
        if i + 1 < len(parts) and (parts[i], parts[i + 1]) in _PHRASES:
            out.append(_PHRASES[(parts[i], parts[i + 1])])
            i += 2
            continue
        part = parts[i]
        i += 1
        if part.isdigit() or is_random_id(part) or len(part) > 24:
            continue
        out.append(_SYNONYMS.get(part, _singular(part)))
    return tuple(out)


def _one_edit_apart(a: str, b: str) -> bool:
    """At most one insertion, deletion, substitution or swap of neighbours between a and b."""
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la > lb:
        a, b, la, lb = b, a, lb, la
    i = 0
    while i < la and a[i] == b[i]:
        i += 1
    if la == lb:
        # one substitution, or two neighbouring letters swapped ("recieve")
        return a[i + 1 :] == b[i + 1 :] or (a[i + 2 :] == b[i + 2 :] and a[i : i + 2] == b[i : i + 2][::-1])
    return a[i:] == b[i + 1 :]


def _tokens_close(a: str, b: str) -> bool:
    if len(a) < 4 or len(b) < 4:
        return False
    if a.startswith(b) or b.startswith(a):  # abbreviations and suffixes: "descr"/"description"
        return min(len(a), len(b)) >= 4
    return _one_edit_apart(a, b)


@lru_cache(maxsize=131072)
def token_similarity(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    """Dice similarity of two token lists, counting near-equal tokens and split/joined compounds.

    Exact shared tokens count 1; a token one edit away or a prefix (4+ letters) counts 0.8; a token that
    equals two adjacent tokens of the other side joined ("signup" vs "sign up") counts 0.9 per side.
    """
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    set_b = set(b)
    matched = 0.0
    rest_a: list[str] = []
    used_b: set[str] = set()
    for tok in a:
        if tok in set_b and tok not in used_b:
            matched += 1.0
            used_b.add(tok)
        else:
            rest_a.append(tok)
    if rest_a and len(a) <= 12 and len(b) <= 12:
        rest_b = [t for t in b if t not in used_b]
        joined_b = {b[i] + b[i + 1]: i for i in range(len(b) - 1)}
        joined_a = {a[i] + a[i + 1] for i in range(len(a) - 1)}
        for tok in rest_a:
            if tok in joined_b:
                matched += 0.9
                continue
            for other in rest_b:
                if _tokens_close(tok, other):
                    matched += 0.8
                    rest_b.remove(other)
                    break
        for tok in rest_b:
            if tok in joined_a:
                matched += 0.9
    return min(1.0, 2.0 * matched / (len(a) + len(b)))


def text_similarity(a: str, b: str) -> float:
    """Similarity of two visible texts in [0, 1]; 1 only for equal normalised text."""
    if not a or not b:
        return 0.0
    na, nb = normalize_text(a), normalize_text(b)
    if na == nb:
        return 1.0 if na else 0.0
    return 0.95 * token_similarity(text_tokens(a), text_tokens(b))


# ------------------------------------------------------------------------------- selector parsing


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


# ---------------------------------------------------------------------------------- the query


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
_ACTIONABLE_ROLES = frozenset(
    {"button", "link", "textbox", "searchbox", "combobox", "listbox", "checkbox", "radio", "switch", "slider",
     "spinbutton", "tab", "menuitem", "menuitemcheckbox", "menuitemradio", "option", "treeitem"}
)  # fmt: skip
_ACTIONABLE_TAGS = frozenset({"a", "button", "input", "select", "textarea", "summary"})
_FORM_CONTROLS = frozenset({"input", "select", "textarea", "meter", "progress", "output"})
_ROLE_GROUPS: list[frozenset[str]] = [
    frozenset({"textbox", "searchbox", "combobox"}),
    frozenset({"button", "link", "menuitem", "tab"}),
    frozenset({"checkbox", "switch", "radio"}),
    frozenset({"cell", "gridcell", "columnheader", "rowheader"}),
]
# How much an equal / differing attribute says (ids of form fields matter more than styling hooks).
_ATTR_WEIGHT = {"name": 2.0, "type": 1.0, "placeholder": 1.5, "aria_label": 1.5, "alt": 1.5, "title": 1.0,
                "value": 1.0, "for": 1.0, "src": 1.0, "action": 1.0}  # fmt: skip
_VOLATILE_ATTRS = frozenset({"style", "tabindex", "aria-expanded", "aria-selected", "aria-hidden",
                             "aria-checked", "aria-pressed", "data-state", "data-reactid", "autocomplete"})  # fmt: skip


@lru_cache(maxsize=16384)
def _tag_similarity(a: str, b: str) -> float:
    if a == b:
        return 1.0
    best = 0.0
    for group, value in _TAG_GROUPS:
        if a in group and b in group:
            best = max(best, value)
    return best


def _role_similarity(a: str, b: str) -> float:
    if a == b:
        return 1.0
    if not b:
        return 0.0
    return 0.6 if any(a in g and b in g for g in _ROLE_GROUPS) else 0.0


def _stable_classes(classes: Sequence[str]) -> frozenset[str]:
    return frozenset(c for c in classes if c not in _STATE_CLASSES and not is_random_id(c))


def _class_tokens(classes: frozenset[str]) -> frozenset[str]:
    return frozenset(t for c in classes for t in ident_tokens(c))


def _attr_map(fp: ElementFingerprint) -> dict[str, str]:
    out = {k: v for k, v in fp.attributes.items() if k not in _VOLATILE_ATTRS and not k.startswith("on")}
    for key in ("name", "type", "placeholder", "aria_label", "alt", "title", "value"):
        value = getattr(fp, key)
        if value:
            out[key] = value
    return out


_DIGITS = re.compile(r"\d+")


def _other_record(path: str, other: str) -> bool:
    """The same route with other numbers: ``/users/3`` and ``/users/7``."""
    return path != other and _DIGITS.sub("0", path) == _DIGITS.sub("0", other)


def _href_key(href: str) -> tuple[str, tuple[str, ...]]:
    """An href without scheme and host, plus its path words."""
    value = re.sub(r"^[a-z]+://[^/]+", "", href.strip(), flags=re.I)
    value = value.split("#", 1)[0] if not value.startswith("#") else value
    return value, tuple(t for t in re.split(r"[/?&=.#_-]+", value.lower()) if t and not t.isdigit())


def _parse_ancestor(summary: str) -> str:
    return re.split(r"[#.]", summary, maxsplit=1)[0] if summary != "#shadow-root" else summary


@dataclass
class _Query:
    """The stored fingerprint, preprocessed once per match."""

    fp: ElementFingerprint
    from_selector: bool
    tag: str
    role: str
    test_id: str
    id: str
    id_random: bool
    id_tokens: tuple[str, ...]
    classes: frozenset[str]
    class_tokens: frozenset[str]
    labels: tuple[str, ...]
    attrs: dict[str, str]
    href: tuple[str, tuple[str, ...]] | None
    neighbor_tokens: frozenset[str]
    anc_tags: list[str]
    anc_set: frozenset[str]
    index_path: list[int]
    center: tuple[float, float] | None
    size: tuple[float, float] | None
    words: list[tuple[str, float]]
    hints: SelectorHints | None = None
    scope_words: frozenset[str] = frozenset()
    record_ids: frozenset[str] = frozenset()
    weights: dict[str, float] = field(default_factory=dict)


def _ancestor_ids(ancestors: Sequence[str]) -> frozenset[str]:
    """Ids of the ancestors (``li#comment-104.comment`` -> ``comment-104``) that name a record or a
    region: generated ids are left out, numbered ones kept (they name the record shown)."""
    out = set()
    for summary in ancestors:
        if "#" in summary and summary != "#shadow-root":
            ident = summary.split("#", 1)[1].split(".", 1)[0]
            if ident and not any(p.search(ident) for p in _GENERATED_ID_PATTERNS):
                out.add(ident)
    return frozenset(out)


def _neighbor_tokens(texts: Sequence[str]) -> frozenset[str]:
    return frozenset(tok for text in texts for tok in text_tokens(text))


def _build_query(stored: ElementFingerprint, from_selector: bool, hints: SelectorHints | None) -> _Query:
    classes = _stable_classes(stored.classes)
    labels = tuple(dict.fromkeys(t for t in (stored.accessible_name, stored.text) if t))
    attrs = _attr_map(stored)
    if stored.aria_label and stored.aria_label in labels:
        attrs.pop("aria_label", None)  # already counted by the text feature
    words: list[tuple[str, float]] = []
    role_hint = ""
    for word in hints.words if hints else []:
        if word in _ROLE_WORDS:
            role_hint = role_hint or _ROLE_WORDS[word]
            words.append((word, 0.5))
        elif word in _GENERIC_WORDS or len(word) < 2:
            words.append((word, 0.3))
        else:
            words.append((word, 1.0))
    bbox = stored.bbox
    box = bbox if bbox and len(bbox) == 4 and stored.visible and bbox[2] > 0 and bbox[3] > 0 else None
    q = _Query(
        fp=stored,
        from_selector=from_selector,
        tag=stored.tag.lower(),
        role=stored.role or role_hint,
        test_id=stored.test_id,
        id=stored.id,
        id_random=is_random_id(stored.id),
        id_tokens=ident_tokens(stored.id),
        classes=classes,
        class_tokens=_class_tokens(classes),
        labels=labels,
        attrs=attrs,
        href=_href_key(stored.href) if stored.href else None,
        neighbor_tokens=_neighbor_tokens(stored.neighbor_texts),
        anc_tags=[_parse_ancestor(a) for a in stored.ancestors],
        anc_set=frozenset(stored.ancestors),
        index_path=list(stored.index_path),
        center=(box[0] + box[2] / 2, box[1] + box[3] / 2) if box else None,
        size=(box[2], box[3]) if box else None,
        words=words,
        hints=hints,
        scope_words=frozenset(hints.scope_words) if hints and from_selector else frozenset(),
        record_ids=_ancestor_ids(stored.ancestors),
    )
    w: dict[str, float] = {}
    # When the fingerprint comes from the failed selector, its id / test id / classes are exactly what
    # stopped matching: keep them as evidence, but lighter, and let the selector's words carry more.
    identity = 0.5 if from_selector else 1.0
    if q.test_id:
        w["test_id"] = W_TEST_ID * identity
    if q.id:
        w["id"] = (W_ID_RANDOM if q.id_random else W_ID_STABLE) * identity
    if q.labels:
        w["text"] = W_TEXT
    if q.attrs:
        w["attributes"] = W_ATTRS
    if q.href:
        w["href"] = W_HREF
    if q.tag:
        w["tag"] = W_TAG
    if q.role:
        w["role"] = W_ROLE if stored.role else W_ROLE * 0.5
    if q.index_path:
        w["position"] = W_POSITION
    if q.center:
        w["bbox"] = W_BBOX
    w["visible"] = W_VISIBLE
    if not from_selector or q.fp.frame:
        w["frame"] = W_FRAME
    if q.classes:
        w["classes"] = W_CLASSES * identity
    if q.neighbor_tokens:
        w["neighbors"] = W_NEIGHBORS
    if q.anc_tags:
        w["ancestors"] = W_ANCESTORS
    if words:
        w["selector"] = W_SELECTOR_ONLY if from_selector else W_SELECTOR
    if q.scope_words:
        w["scope"] = W_SCOPE
    if q.record_ids:
        w["records"] = W_RECORDS
    if from_selector and not q.tag and not q.role:
        # Selectors are written for elements an agent acts on: without a tag or role in the selector,
        # prefer links, buttons and form controls over the containers around them.
        w["actionable"] = W_ACTIONABLE
    q.weights = w
    return q


# ------------------------------------------------------------------------------------- features


def _ident_similarity(a: str, a_tokens: tuple[str, ...], b: str) -> float:
    if not b:
        return 0.0
    if a == b:
        return 1.0
    return 0.7 * token_similarity(a_tokens, ident_tokens(b))


def _position_similarity(a: list[int], b: list[int]) -> float:
    if not b:
        return 0.0
    if a == b:
        return 1.0
    n = min(len(a), len(b))
    prefix = 0
    while prefix < n and a[prefix] == b[prefix]:
        prefix += 1
    score = 0.8 * prefix / max(len(a), len(b))
    return score + 0.2 if len(a) == len(b) else score


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def _candidate_words(c: ElementFingerprint) -> set[str]:
    words: set[str] = {c.tag, c.role, c.type}
    words.update(ident_tokens(c.id))
    words.update(ident_tokens(c.test_id))
    words.update(ident_tokens(c.name))
    for cls in c.classes:
        words.update(ident_tokens(cls))
    for text in (c.accessible_name, c.text[:80], c.aria_label, c.placeholder, c.title, c.alt):
        if text:
            tokens = text_tokens(text)
            words.update(tokens)
            words.update(tokens[i] + tokens[i + 1] for i in range(len(tokens) - 1))
    if c.href:
        words.update(_href_key(c.href)[1])
    for word in list(words):
        if word in _ROLE_WORDS:
            words.add(_ROLE_WORDS[word])
    words.discard("")
    return words


class _Scorer:
    """Scores the candidates of one page against one query.

    Identity features are computed for every candidate up front, one array per feature; per-call memo
    tables make repeated values (the same text, classes or ancestors on many elements) cost one dict
    lookup. The arrays also tell whether the stored element is one of a crowd of look-alikes and
    whether its identity attributes are shared. The other features are lazy (see :func:`_rank`).
    """

    def __init__(self, q: _Query, candidates: Sequence[ElementFingerprint]) -> None:
        self.q = q
        self.candidates = candidates
        self._labels: dict[tuple[str, str, str], float] = {}
        self._idents: dict[tuple[str, str], float] = {}
        self._attrs: dict[tuple[object, ...], float] = {}
        self._classes: dict[tuple[str, ...], float] = {}
        self._ancestors: dict[tuple[str, ...], float] = {}
        self._scopes: dict[tuple[str, ...], float] = {}
        self._records: dict[tuple[str, ...], float] = {}
        # Identity features, computed for every candidate (memo lookups, mostly). The rest is lazy.
        bulk = [("test_id", self.test_id), ("id", self.id), ("text", self.text), ("tag", self.tag), ("href", self.href)]
        lazy = [
            ("attributes", self.attributes), ("role", self.role), ("position", self.position),
            ("bbox", self.bbox), ("visible", self.visible), ("frame", self.frame), ("classes", self.classes),
            ("ancestors", self.ancestors), ("selector", self.selector), ("actionable", self.actionable),
            ("scope", self.scope), ("records", self.records),
        ]  # fmt: skip
        self.weights = dict(q.weights)
        self.values: dict[str, list[float]] = {
            name: [fn(c) for c in candidates] for name, fn in bulk if name in self.weights
        }
        if "neighbors" in self.weights:
            self.values["neighbors"] = self._neighbor_values()
        # Identity attributes vouch for a candidate only if no other candidate shares them.
        self.shared: dict[str, bool] = {
            name: sum(1 for v in self.values[name] if v >= 0.9) > 1
            for name in ("test_id", "id", "href")
            if name in self.values
        }
        self.shared["name"] = bool(q.fp.name) and sum(1 for c in candidates if c.name == q.fp.name) > 1
        self.crowd, unique = self._count_look_alikes()
        if self.crowd >= 2 and "neighbors" in self.weights:
            # Among look-alikes only the surroundings tell which one is meant: they weigh more.
            self.weights["neighbors"] *= min(3.0, 1.0 + math.log(self.crowd))
        if unique is not None:
            # A label that only one element of this kind carries identifies it well.
            self.weights["unique_label"] = W_UNIQUE_LABEL
            self.values["unique_label"] = [1.0 if i == unique else 0.0 for i in range(len(candidates))]
        self.lazy = [(name, self.weights[name], fn) for name, fn in lazy if name in self.weights]
        self.total = sum(self.weights.values())
        self.lazy_total = sum(weight for _, weight, _ in self.lazy)
        cheap = [0.0] * len(candidates)
        for name, values in self.values.items():
            weight = self.weights[name]
            cheap = [a + weight * b for a, b in zip(cheap, values, strict=True)]
        self.cheap = cheap

    def _count_look_alikes(self) -> tuple[int, int | None]:
        """Candidates that carry the stored label and are the same kind of element (same role or tag),
        visible if the stored element was: the crowd the target must be told apart from. Also the index
        of the only candidate of that kind with exactly the stored label, if there is exactly one."""
        texts = self.values.get("text")
        if texts is None:
            return 0, None
        q = self.q
        crowd = 0
        exact: list[int] = []
        for i, (value, c) in enumerate(zip(texts, self.candidates, strict=True)):
            if value < 0.9 or (q.fp.visible and not c.visible):
                continue
            if (q.role and c.role == q.role) or c.tag == q.tag or not (q.role or q.tag):
                crowd += 1
                if value >= 0.99:
                    exact.append(i)
        return crowd, exact[0] if len(exact) == 1 else None

    def full_score(self, i: int) -> float:
        c = self.candidates[i]
        return (self.cheap[i] + sum(weight * fn(c) for _, weight, fn in self.lazy)) / self.total

    def evidence(self, i: int) -> dict[str, float]:
        out = {name: values[i] for name, values in self.values.items()}
        out.update((name, fn(self.candidates[i])) for name, _, fn in self.lazy)
        return out

    # -- cheap features -------------------------------------------------------------------------

    def test_id(self, c: ElementFingerprint) -> float:
        key = ("t", c.test_id)
        value = self._idents.get(key)
        if value is None:
            value = self._idents[key] = _ident_similarity(self.q.test_id, ident_tokens(self.q.test_id), c.test_id)
        return value

    def id(self, c: ElementFingerprint) -> float:
        key = ("i", c.id)
        value = self._idents.get(key)
        if value is None:
            q = self.q
            if q.id_random:
                value = 1.0 if c.id == q.id else 0.0
            else:
                value = 0.0 if is_random_id(c.id) else _ident_similarity(q.id, q.id_tokens, c.id)
            self._idents[key] = value
        return value

    def text(self, c: ElementFingerprint) -> float:
        key = (c.accessible_name, c.text, c.value)
        value = self._labels.get(key)
        if value is None:
            value = self._labels[key] = self._text(c)
        return value

    def _text(self, c: ElementFingerprint) -> float:
        """Accessible name against accessible name, visible text against visible text, averaged when
        both exist: "Like comment by Ann" and "Like comment by Bob" share their text, not their name."""
        q = self.q.fp
        pairs = []
        if q.accessible_name and c.accessible_name:
            pairs.append(text_similarity(q.accessible_name, c.accessible_name))
        if q.text and c.text:
            pairs.append(text_similarity(q.text, c.text))
        if pairs:
            return sum(pairs) / len(pairs)
        cand = [t for t in (c.accessible_name, c.text, c.value) if t]
        return max((text_similarity(a, b) for a in self.q.labels for b in cand), default=0.0)

    def attributes(self, c: ElementFingerprint) -> float:
        key = (c.name, c.type, c.placeholder, c.aria_label, c.alt, c.title, c.value, *c.attributes.items())
        value = self._attrs.get(key)
        if value is None:
            value = self._attrs[key] = self._attributes(c)
        return value

    def _attributes(self, c: ElementFingerprint) -> float:
        cand = _attr_map(c)
        total = 0.0
        got = 0.0
        for key, value in self.q.attrs.items():
            weight = _ATTR_WEIGHT.get(key, 0.5)
            total += weight
            other = cand.get(key)
            if other is None:
                continue
            if other == value:
                got += weight
            elif len(value) < 80:
                got += weight * 0.2 * (1.0 + text_similarity(value, other))
            else:
                got += weight * 0.2
        # Attributes the candidate has and the stored element had not are mild evidence against.
        extra = 0.25 * sum(1 for key in cand if key not in self.q.attrs and key != "type")
        return got / (total + extra) if total else 0.0

    def href(self, c: ElementFingerprint) -> float:
        q = self.q
        if not c.href or q.href is None:
            return 0.0
        key = ("h", c.href)
        value = self._idents.get(key)
        if value is None:
            path, words = _href_key(c.href)
            if path == q.href[0]:
                value = 1.0
            elif _other_record(q.href[0], path):
                value = 0.1  # same route, another record: /users/3 is not /users/7
            else:
                value = 0.8 * token_similarity(q.href[1], words)
            self._idents[key] = value
        return value

    def tag(self, c: ElementFingerprint) -> float:
        return _tag_similarity(self.q.tag, c.tag)

    def role(self, c: ElementFingerprint) -> float:
        return _role_similarity(self.q.role, c.role)

    def position(self, c: ElementFingerprint) -> float:
        return _position_similarity(self.q.index_path, c.index_path)

    def bbox(self, c: ElementFingerprint) -> float:
        q = self.q
        box = c.bbox
        if q.center is None or q.size is None or not box or len(box) != 4 or box[2] <= 0 or box[3] <= 0:
            return 0.0
        dx = box[0] + box[2] / 2 - q.center[0]
        dy = box[1] + box[3] / 2 - q.center[1]
        near = 1.0 / (1.0 + (dx * dx + dy * dy) / 22500.0)
        w0, h0 = q.size
        size = (min(w0, box[2]) / max(w0, box[2])) * (min(h0, box[3]) / max(h0, box[3]))
        return 0.7 * near + 0.3 * size

    def visible(self, c: ElementFingerprint) -> float:
        return 1.0 if c.visible == self.q.fp.visible else 0.0

    def frame(self, c: ElementFingerprint) -> float:
        return 1.0 if c.frame == self.q.fp.frame else 0.0

    # -- structure and surroundings ------------------------------------------------------------

    def classes(self, c: ElementFingerprint) -> float:
        key = tuple(c.classes)
        value = self._classes.get(key)
        if value is None:
            q = self.q
            cand = _stable_classes(c.classes)
            if not cand:
                value = 0.0
            else:
                exact = len(q.classes & cand) / len(q.classes | cand)
                cand_tokens = _class_tokens(cand)
                union = q.class_tokens | cand_tokens
                tokens = len(q.class_tokens & cand_tokens) / len(union) if union else 0.0
                value = max(exact, 0.8 * tokens)
            self._classes[key] = value
        return value

    def _neighbor_values(self) -> list[float]:
        """IDF-weighted share of the stored neighbour words found around each candidate.

        Inverse document frequency is taken over the candidates' neighbour words: words around every
        element of the page ("Edit", "Delete", a table heading) weigh little, words around few
        ("Alice Nguyen") weigh a lot, and look-alikes differ exactly in those.
        """
        stored = self.q.neighbor_tokens
        per_text: dict[str, frozenset[str]] = {}
        hits: list[frozenset[str]] = []
        df = dict.fromkeys(stored, 0)
        for c in self.candidates:
            found: frozenset[str] = frozenset()
            for text in c.neighbor_texts:
                words = per_text.get(text)
                if words is None:
                    words = per_text[text] = frozenset(text_tokens(text)) & stored
                if words:
                    found = found | words
            hits.append(found)
            for tok in found:
                df[tok] += 1
        n = len(self.candidates)
        # Squared: template words shared by many records must not outvote the one name that differs.
        idf = {tok: math.log((n + 1.0) / (count + 1.0)) ** 2 for tok, count in df.items()}
        total = sum(idf.values())
        if total <= 0:
            return [0.0] * n
        # Word for word agreement of whole texts counts too: it is what a reordering of the page or a
        # single volatile heading leaves intact, and it does not hinge on one rare word.
        stored_texts = [normalize_text(t) for t in self.q.fp.neighbor_texts]
        exact_by_texts: dict[tuple[str, ...], float] = {}
        by_set: dict[frozenset[str], float] = {}
        out: list[float] = []
        for found, c in zip(hits, self.candidates, strict=True):
            value = by_set.get(found)
            if value is None:
                value = by_set[found] = sum(idf[t] for t in found) / total
            key = tuple(c.neighbor_texts)
            exact = exact_by_texts.get(key)
            if exact is None:
                around = {normalize_text(t) for t in key}
                exact = exact_by_texts[key] = sum(1 for t in stored_texts if t in around) / len(stored_texts)
            out.append(W_NEIGHBOR_WORDS * value + (1.0 - W_NEIGHBOR_WORDS) * exact)
        return out

    def ancestors(self, c: ElementFingerprint) -> float:
        key = tuple(c.ancestors)
        value = self._ancestors.get(key)
        if value is None:
            q = self.q
            if not key:
                value = 0.0
            else:
                tags = [_parse_ancestor(a) for a in key]
                longest = max(len(q.anc_tags), len(tags))
                exact = len(q.anc_set.intersection(key)) / longest
                value = 0.5 * _lcs(q.anc_tags, tags) / longest + 0.5 * exact
            self._ancestors[key] = value
        return value

    def records(self, c: ElementFingerprint) -> float:
        """Share of the stored element's ancestor ids that the candidate's ancestors carry too."""
        key = tuple(c.ancestors)
        value = self._records.get(key)
        if value is None:
            value = self._records[key] = len(self.q.record_ids & _ancestor_ids(key)) / len(self.q.record_ids)
        return value

    def scope(self, c: ElementFingerprint) -> float:
        """Share of the words of the selector's enclosing parts (``#product-9 >> ...``) found in the
        ids and classes of the candidate's ancestors."""
        key = tuple(c.ancestors)
        value = self._scopes.get(key)
        if value is None:
            found: set[str] = set()
            for summary in key:
                for part in re.split(r"[#.]", summary)[1:]:
                    found.update(ident_tokens(part))
            value = self._scopes[key] = len(self.q.scope_words & found) / len(self.q.scope_words)
        return value

    def actionable(self, c: ElementFingerprint) -> float:
        return 1.0 if c.role in _ACTIONABLE_ROLES or c.tag in _ACTIONABLE_TAGS else 0.0

    def selector(self, c: ElementFingerprint) -> float:
        bag = _candidate_words(c)
        total = 0.0
        got = 0.0
        for word, weight in self.q.words:
            total += weight
            if word in bag:
                got += weight
            elif len(word) >= 4 and any(_tokens_close(word, other) for other in bag):
                got += 0.7 * weight
        return got / total if total else 0.0


# ------------------------------------------------------------------------------------- ranking


def confidence_of(score: float, margin: float, *, confirmed: bool = True) -> float:
    """Calibrated probability that the top candidate is the right element (see module docstring)."""
    z = CALIBRATION_A * score + CALIBRATION_B * margin + CALIBRATION_C
    if not confirmed:
        z += CALIBRATION_D
    if z < -40:
        return 0.0
    return 1.0 / (1.0 + math.exp(-z))


def _nested(a: ElementFingerprint, b: ElementFingerprint) -> bool:
    """One element contains the other (same frame): e.g. a button and the span holding its label."""
    if a.frame != b.frame or not a.xpath or not b.xpath:
        return False
    x, y = a.xpath, b.xpath
    if len(x) > len(y):
        x, y = y, x
    return y.startswith(x) and (len(y) == len(x) or y[len(x)] == "/")


def _same_meaning(a: ElementFingerprint, b: ElementFingerprint) -> bool:
    """Nested elements that carry the same label: acting on either is the same action."""
    if not _nested(a, b):
        return False
    la = normalize_text(a.accessible_name or a.text)
    lb = normalize_text(b.accessible_name or b.text)
    return bool(la) and (la == lb or la in lb or lb in la)


@dataclass
class _Ranked:
    index: int
    score: float
    evidence: dict[str, float]


def _rank(scorer: _Scorer, top_k: int) -> list[_Ranked]:
    """The exact ``top_k`` by full score. Lazy features are computed only while
    ``(cheap + all lazy weight) / total`` can still beat the k-th best full score."""
    total = scorer.total
    n = len(scorer.candidates)
    if total <= 0 or n == 0:
        return []
    cheap = scorer.cheap
    extra = scorer.lazy_total
    order = sorted(range(n), key=cheap.__getitem__, reverse=True)
    best: list[tuple[float, int]] = []  # (score, index), best first, at most top_k
    floor = -1.0
    for i in order:
        if (cheap[i] + extra) / total < floor:
            break
        score = scorer.full_score(i)
        if len(best) < top_k or score > floor:
            best.append((score, i))
            best.sort(key=lambda item: (-item[0], item[1]))
            del best[top_k:]
            if len(best) == top_k:
                floor = best[-1][0]
    return [_Ranked(i, score, scorer.evidence(i)) for score, i in best]


def score_candidates(
    stored: ElementFingerprint | None,
    candidates: Sequence[ElementFingerprint],
    *,
    failed_selector: str | None = None,
    top_k: int = TOP_K,
) -> list[tuple[int, float, dict[str, float]]]:
    """The ``top_k`` best candidates as ``(index, score, evidence)``, best first (exact, pruned search)."""
    query = _make_query(stored, failed_selector)
    if query is None:
        return []
    return [(r.index, r.score, r.evidence) for r in _rank(_Scorer(query, candidates), top_k)]


def _make_query(stored: ElementFingerprint | None, failed_selector: str | None) -> _Query | None:
    hints = parse_selector(failed_selector) if failed_selector else None
    if stored is not None:
        return _build_query(stored, False, hints)
    if hints is None or hints.is_empty():
        return None
    return _build_query(hints.to_fingerprint(), True, hints)


_EVIDENCE_NAMES = {
    "test_id": "test id",
    "id": "id",
    "text": "text",
    "attributes": "attributes",
    "href": "link target",
    "tag": "tag",
    "role": "role",
    "position": "position in the tree",
    "bbox": "place on the page",
    "classes": "classes",
    "neighbors": "surrounding text",
    "ancestors": "ancestors",
    "selector": "selector words",
}


def _evidence_words(ev: dict[str, float]) -> str:
    same = [_EVIDENCE_NAMES[k] for k, v in ev.items() if k in _EVIDENCE_NAMES and v >= 0.99]
    similar = [_EVIDENCE_NAMES[k] for k, v in ev.items() if k in _EVIDENCE_NAMES and 0.5 <= v < 0.99]
    parts = []
    if same:
        parts.append("same " + ", ".join(same))
    if similar:
        parts.append("similar " + ", ".join(similar))
    return "; ".join(parts) or "weak evidence only"


def _anchored(scorer: _Scorer, c: ElementFingerprint, ev: dict[str, float]) -> bool:
    """An identity attribute vouches for the candidate: test id, hand-written id, link target or form
    field name (nearly) equal to the stored one, and carried by no other candidate."""
    q = scorer.q
    shared = scorer.shared
    if ev.get("test_id", 0.0) >= 0.9 and not shared.get("test_id"):
        return True
    if ev.get("href", 0.0) >= 0.9 and not shared.get("href"):
        return True
    if ev.get("id", 0.0) >= 0.9 and not q.id_random and not shared.get("id"):
        return True
    return bool(q.fp.name) and q.fp.name == c.name and not shared.get("name")


def _same_surroundings(stored: ElementFingerprint, candidate: ElementFingerprint) -> float:
    """Share of the stored neighbour texts found word for word around the candidate."""
    if not stored.neighbor_texts:
        return 0.0
    around = {normalize_text(t) for t in candidate.neighbor_texts}
    return sum(1 for t in stored.neighbor_texts if normalize_text(t) in around) / len(stored.neighbor_texts)


def _veto(scorer: _Scorer, top: _Ranked, candidate: ElementFingerprint) -> str:
    """Why the best candidate must not be taken although it scores well, or "" (see "Decision")."""
    q = scorer.q
    ev = top.evidence
    if _anchored(scorer, candidate, ev):
        return ""
    context = ev.get("neighbors")
    if scorer.crowd >= 2 and ev.get("text", 0.0) >= 0.9 and context is not None and context < MIN_CONTEXT:
        return f"{scorer.crowd} elements carry the target's label and none sits in its surroundings"
    if q.from_selector:
        return ""  # the rules below compare with a full fingerprint; see _selector_gate instead
    if q.href is not None and candidate.href and _other_record(q.href[0], _href_key(candidate.href)[0]):
        return "it links to another record (same route, other id)"
    if ev.get("records", 1.0) < 1.0:
        missing = q.record_ids - _ancestor_ids(candidate.ancestors)
        present = {i for c in scorer.candidates for i in _ancestor_ids(c.ancestors) if i in missing}
        if present:
            return f"the target's container #{sorted(present)[0]} is still on the page, and it is not in there"
    if "text" in ev and ev["text"] < 0.9:
        own = normalize_text(candidate.accessible_name or candidate.text)
        if own and own in {normalize_text(t) for t in q.fp.neighbor_texts}:
            return "it was one of the target's neighbours"
        # The less the label agrees, the more of the surroundings must, word for word.
        needed = MIN_CONTEXT_RELABELLED + (1.0 - MIN_CONTEXT_RELABELLED) * 0.75 * (1.0 - ev["text"] / 0.9)
        if context is None or context < needed or _same_surroundings(q.fp, candidate) < 0.5:
            return "its label changed, and neither an identity attribute nor its surroundings confirm it"
        if ev.get("text", 0.0) < 0.5 and candidate.tag != q.tag:
            return f"its label and its kind changed ({candidate.tag}, not {q.tag})"
    if ev.get("tag", 1.0) == 0.0 and ev.get("role", 1.0) == 0.0:
        return f"it is a different kind of element ({candidate.tag}, not {q.tag})"
    return ""


def _label_covered(q: _Query, c: ElementFingerprint) -> float:
    """Share of the candidate's label words that the failed selector's words account for."""
    label = text_tokens(c.accessible_name or c.text)
    if not label:
        return 1.0
    words = {w for w, _ in q.words}
    covered = sum(1 for t in label if t in words or any(_tokens_close(t, w) for w in words))
    return covered / len(label)


def _identifiers_covered(q: _Query, c: ElementFingerprint) -> float:
    """Share of the candidate's identifier words (hand-written id, test id, name) that the failed
    selector's words account for: ``#su-password`` does not describe ``#su-password_confirm``."""
    idents = set(ident_tokens(c.test_id)) | set(ident_tokens(c.name))
    if c.id and not is_random_id(c.id):
        idents.update(ident_tokens(c.id))
    if not idents:
        return 1.0
    words = {w for w, _ in q.words}
    return sum(1 for t in idents if t in words) / len(idents)


def _says_all_of(q: _Query, c: ElementFingerprint) -> bool:
    """Every word of the selector's label is in the candidate's: "Save Rattan basket" is not the
    "Rattan basket" link (the selector named an action on it)."""
    wanted = set(text_tokens(" ".join(q.labels)))
    have = set(text_tokens(f"{c.accessible_name} {c.text}"))
    return bool(wanted) and all(w in have or any(_tokens_close(w, h) for h in have) for w in wanted)


def _hinted_attributes(hints: SelectorHints, c: ElementFingerprint) -> float:
    """Worst agreement between the attribute values the selector names and the candidate's (0 if none)."""
    named = {"placeholder": hints.placeholder, "alt": hints.alt, "title": hints.title, **hints.attributes}
    named = {k: v for k, v in named.items() if v}
    if not named:
        return 0.0
    have = {**c.attributes, "placeholder": c.placeholder, "alt": c.alt, "title": c.title, "name": c.name,
            "type": c.type, "value": c.value}  # fmt: skip
    return min(1.0 if have.get(k) == v else text_similarity(v, have.get(k) or "") for k, v in named.items())


def _selector_gate(
    q: _Query, top: _Ranked, candidate: ElementFingerprint, margin: float, candidates: Sequence[ElementFingerprint]
) -> str:
    """Without a reference run, heal only when what the selector says clearly names the candidate."""
    hints = q.hints
    if hints is None:
        return "no selector"
    ev = top.evidence
    if hints.tag and _tag_similarity(hints.tag, candidate.tag) < 0.5:
        return f"the selector asks for <{hints.tag}>, the best candidate is <{candidate.tag}>"
    if hints.role and _role_similarity(hints.role, candidate.role) < 0.6:
        return f"the selector asks for role {hints.role}, the best candidate is {candidate.role or 'without role'}"
    labelled = candidate.tag in _FORM_CONTROLS or candidate.aria_label or "aria-labelledby" in candidate.attributes
    if hints.label and not labelled:
        return f"the selector asks for a labelled control, the best candidate is <{candidate.tag}>"
    scope = set(hints.scope_ids)
    outside = bool(scope) and not scope & _ancestor_ids(candidate.ancestors)
    if outside and any(scope & _ancestor_ids(c.ancestors) for c in candidates):
        return f"the selector looks inside #{hints.scope_ids[0]}, which is still there; the best candidate is not"
    if margin < SELECTOR_MIN_MARGIN:
        return f"without a reference run a lead of {SELECTOR_MIN_MARGIN:.2f} is needed, this one has {margin:.2f}"
    if ev.get("text", 0.0) >= 0.9 or ev.get("test_id", 0.0) >= 0.9 or ev.get("id", 0.0) >= 0.9:
        return ""
    clear_lead = margin >= 2 * SELECTOR_MIN_MARGIN
    if ev.get("text", 0.0) >= 0.6 and clear_lead and _says_all_of(q, candidate):
        return ""  # a longer label ("Email" -> "Email address"), far ahead of anything else
    if _hinted_attributes(hints, candidate) >= (0.6 if clear_lead else 0.99):
        return ""
    # Every word of the selector is on the candidate and none of its own identifiers says otherwise.
    words_fit = ev.get("selector", 0.0) >= 0.8 and _identifiers_covered(q, candidate) >= 0.99
    if words_fit and (_label_covered(q, candidate) >= 0.6 or margin >= 2 * SELECTOR_MIN_MARGIN):
        return ""
    return "what the failed selector says does not clearly name it"


def _runner_up(ranked: list[_Ranked], candidates: Sequence[ElementFingerprint]) -> _Ranked | None:
    top = candidates[ranked[0].index]
    return next((r for r in ranked[1:] if not _same_meaning(top, candidates[r.index])), None)


def match_element(
    stored: ElementFingerprint | None,
    candidates: Sequence[ElementFingerprint],
    *,
    failed_selector: str | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    min_margin: float = DEFAULT_MIN_MARGIN,
) -> MatchResult:
    """Find the element of ``candidates`` that ``stored`` (or ``failed_selector``) describes, or refuse.

    See the module docstring for the features, the decision rules and the confidence calibration.
    """
    query = _make_query(stored, failed_selector)
    if query is None:
        return MatchResult(
            healed=False, rule="no-evidence", reason="nothing to match on: no stored fingerprint and no usable selector"
        )
    if not candidates:
        return MatchResult(healed=False, rule="no-candidates", reason="the page has no candidate elements")
    scorer = _Scorer(query, candidates)
    ranked = _rank(scorer, TOP_K)
    if not ranked:
        return MatchResult(
            healed=False, rule="no-evidence", reason="nothing to compare: the fingerprint has no usable fields"
        )
    runner = _runner_up(ranked, candidates)
    if runner is None and len(ranked) == TOP_K:
        # Every near candidate is nested in the best one: look further for a real runner-up.
        ranked = _rank(scorer, TOP_K * 4)
        runner = _runner_up(ranked, candidates)
        if runner is None and len(ranked) == TOP_K * 4:
            runner = ranked[-1]  # conservative: compare with the weakest one seen
        ranked = ranked[:TOP_K] if runner is None or runner in ranked[:TOP_K] else [*ranked[: TOP_K - 1], runner]
    top = ranked[0]
    top_fp = candidates[top.index]
    runner_score = runner.score if runner else 0.0
    margin = top.score - runner_score
    veto = _veto(scorer, top, top_fp)
    confidence = confidence_of(top.score, margin, confirmed=not veto)
    scored = [
        ScoredCandidate(
            index=r.index,
            score=round(r.score, 4),
            confidence=round(confidence if r is top else confidence_of(r.score, r.score - top.score), 4),
            summary=candidates[r.index].summary(),
            evidence={k: round(v, 3) for k, v in r.evidence.items()},
        )
        for r in ranked
    ]
    described = f"{top_fp.summary()} (score {top.score:.2f}"
    described += f", next best {runner_score:.2f} {candidates[runner.index].summary()})" if runner else ")"
    rule, refusal = "", ""
    if top.score < threshold:
        rule = "threshold"
        refusal = f"no candidate is similar enough: best is {described}, below the threshold {threshold:.2f}"
    elif margin < min_margin:
        rule = "ambiguous"
        refusal = f"ambiguous: two candidates are about as similar: {described}; margin {margin:.2f}"
    elif veto:
        rule = "unconfirmed"
        refusal = f"the best candidate is unconfirmed: {veto}: {described}"
    elif query.from_selector and (gate := _selector_gate(query, top, top_fp, margin, candidates)):
        rule = "selector"
        refusal = f"not healed from the selector alone: {gate}: {described}"
    elif not top_fp.visible and (query.from_selector or query.fp.visible):
        rule = "hidden"
        refusal = f"the best candidate is hidden: {described}"
    elif not top_fp.enabled and (query.from_selector or query.fp.enabled):
        rule = "disabled"
        refusal = f"the best candidate is disabled: {described}"
    common = {"confidence": round(confidence, 4), "ranked": scored, "margin": margin, "confirmed": not veto}
    if refusal:
        return MatchResult(healed=False, index=None, reason=refusal, rule=rule, **common)
    source = "the failed selector" if query.from_selector else "the stored fingerprint"
    reason = f"matched {described} against {source}: {_evidence_words(top.evidence)}"
    return MatchResult(healed=True, index=top.index, reason=reason, **common)
