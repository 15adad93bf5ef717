"""Issue signatures: the same failure with different ids lands in one issue; different failures do not.

A signature is built from structured fields (component, symptom kind, target) plus the message with
its variable parts masked. Masking replaces, in this order: urls (keeping host and path shape), emails,
uuids, timestamps, ip addresses with ports, hex hashes, quoted values, generated ids, ports and numbers.
The result is hashed and prefixed with the version of the masking rules, so a change of the rules
yields new signatures instead of silently regrouping old issues.

Versions: ``sig1`` masks everything above but generated ids; ``sig2`` (:data:`SIGNATURE_VERSION`) also
masks generated ids (``cus_NffrFeUfNV2Hib``, ULIDs, nanoids, ``abc123xyz``). A message the sig2 rules mask
exactly as the sig1 rules did keeps its sig1 signature, so the issues, healing memory and audit trail
recorded before the change go on receiving their events; only messages with a generated id in them,
which sig1 split into one issue per id, are signed sig2 (and the version is part of their hash, so a
sig2 issue id never collides with a sig1 one).

Generated ids: a run of 8 or more of ``[A-Za-z0-9_-]`` holding a digit is an id when it reads like one
rather than like a word. Leading lower-case words ending in ``_`` or ``-`` are kept as its prefix
(``cus_<id>``, ``req-<id>``). The rest is an id when it is a ULID; else, in one part: not a number with
its unit (``120000ms``), not a name with a number unless the number has 6+ digits (``windows10`` and
``PGRST116`` stay, ``order12345678`` goes), and with three or more digits, two or more digit runs, or case
changes as frequent as random text (``abc123xyz``, ``a1b2c3d4``, ``NffrFeUfNV2Hib``; ``Float64Array``
stays); in several parts: upper case, lower case and digits mixed that often throughout (a nanoid, never
a name like ``x86_64-linux-gnu``). Words shorter than 8 characters (``utf8``, ``http2``, ``h264``,
``base64``, ``oauth2``) and plain numbers are never ids.

The target is masked more lightly than the message: a selector or tool name is structure, so only
values that are clearly instance data (uuids, long hex, emails, long digit runs) are masked there.

Speed matters here (it runs for every event), so every rule is a single C-level ``re.sub``, written so
the regex engine can skip ahead:

- A rule is skipped when a cheap exact test shows it cannot match (no ``@`` means no email): skipping a
  rule that cannot match changes nothing.
- A pattern starts with a plain character class whenever it can, because the engine then jumps from
  one candidate character to the next instead of trying a match at every position. A leading ``\\b``
  or ``re.IGNORECASE`` would prevent that, so ``\\bX`` is written ``X(?<!\\wX)`` (X is a word character,
  so "no word character before it" is exactly the word boundary) and case-insensitive letters are
  spelt out, including the one letter ``re.IGNORECASE`` widens beyond ASCII here: ``s`` also matches
  U+017F, the long s. Each comment shows the plain form the pattern is equivalent to.

Only urls, hex runs long enough to be a hash, and id candidates go through a Python callback.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import NamedTuple

SIGNATURE_VERSION = "sig2"
FIRST_VERSION = "sig1"

_HEXCHAR = "[0-9a-fA-F]"

# \b(?:https?|wss?|ftp)://([^/\s?#'"<>]+)([^\s?#'"<>]*)(?:[?#][^\s'"<>]*)?   with re.IGNORECASE
_URL = re.compile(
    r"[HhWwFf](?<!\w[HhWwFf])(?:(?<=[Hh])[Tt][Tt][Pp][Ss\u017f]?|(?<=[Ww])[Ss\u017f][Ss\u017f]?|(?<=[Ff])[Tt][Pp])"
    r"://([^/\s?#'\"<>]+)([^\s?#'\"<>]*)(?:[?#][^\s'\"<>]*)?"
)
_URL_PATH_VARIABLE = re.compile(r"/(?=[^/]*\d)[^/]+")
_URL_PORT = re.compile(r":\d+$")
# Status codes carry meaning (a 404 is not a 500): protect them from the number rule by gluing them to
# a letter, which the number rule's look-behind leaves alone.
# \b(HTTP(?:/\d(?:\.\d)?)?|status(?: code)?|code)([:= ]+)([1-5]\d\d)\b   with re.IGNORECASE
_STATUS_WORD = (
    r"[HhCcSs\u017f](?<!\w[HhCcSs\u017f])(?:(?<=[Hh])[Tt][Tt][Pp]{version}"
    r"|(?<=[Ss\u017f])[Tt][Aa][Tt][Uu][Ss\u017f](?: [Cc][Oo][Dd][Ee])?|(?<=[Cc])[Oo][Dd][Ee])"
)
_HTTP_VERSION = r"(?:/\d(?:\.\d)?)?"
_STATUS = re.compile(rf"({_STATUS_WORD.format(version=_HTTP_VERSION)})([:= ]+)([1-5]\d\d)\b")
# A run of 8+ hex digits standing alone as a word is a hash when it mixes digits and letters; the
# callback keeps any other run as it is.
# \b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b   with re.IGNORECASE
_HEX_RUN = re.compile(rf"{_HEXCHAR}(?<!\w{_HEXCHAR}){_HEXCHAR}{{7,}}\b")
_HAS_DIGIT = re.compile(r"\d")
_HAS_HEX_LETTER = re.compile(r"[a-fA-F]")
# A run of 8+ id characters holding a digit (after the character before it, so the engine jumps from
# one word break to the next): a generated id or not, the callback decides. Text gets a leading space.
# (?<![A-Za-z0-9_-])(?=[A-Za-z0-9_-]{8})[A-Za-z_-]*\d[A-Za-z0-9_-]*
_ID_CHARS = "A-Za-z0-9_-"
_ID_RUN = re.compile(rf"([^{_ID_CHARS}])(?=[{_ID_CHARS}]{{8}})([A-Za-z_-]*\d[{_ID_CHARS}]*)")
_ID_PREFIX = re.compile(r"(?:[a-z]+[_-])*")
_NUMBER_WITH_UNIT = re.compile(r"\d+(?:[a-z]+|[A-Z]+|[A-Z][a-z]+)")  # 120000ms, 4096KB
_NAME_WITH_NUMBER = re.compile(r"(?:[a-z]+|[A-Z]+|[A-Z][a-z]+)(\d+)")  # windows10, PGRST116, order12345678
_ULID = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")
_CHAR_CLASS = str.maketrans(
    {
        **dict.fromkeys(string.ascii_lowercase, "a"),
        **dict.fromkeys(string.ascii_uppercase, "A"),
        **dict.fromkeys(string.digits, "0"),
        "-": "_",
    }
)
_DIGIT_RUN = re.compile("0+")


def _mask_hex_run(match: re.Match[str]) -> str:
    run = match.group()
    return "<hex>" if _HAS_DIGIT.search(run) and _HAS_HEX_LETTER.search(run) else run


def is_generated_id(token: str) -> bool:
    """Whether a run of ``[A-Za-z0-9_-]`` (its lower-case prefix words already split off) is a generated
    id rather than a word, a name with a version or a number with its unit. See the module docstring."""
    if len(token) < 8:
        return False
    shape = token.translate(_CHAR_CLASS)  # a = lower, A = upper, 0 = digit, _ = separator
    digits = shape.count("0")
    if digits in (0, len(token)):
        return False  # no digit, or nothing but digits (a number: the number rule's)
    if _ULID.fullmatch(token):
        return True
    mixed_case = "a" in shape and "A" in shape
    # Random text changes character class at about two positions in three; words do so far less often.
    random_looking = 2 * sum(1 for a, b in pairwise(shape) if a != b) >= len(shape) - 1
    if "_" in shape:
        return len(token) >= 10 and digits > 0 and mixed_case and random_looking
    if _NUMBER_WITH_UNIT.fullmatch(token):
        return False
    named = _NAME_WITH_NUMBER.fullmatch(token)
    if named is not None:
        return len(named.group(1)) >= 6
    return digits >= 3 or len(_DIGIT_RUN.findall(shape)) >= 2 or (mixed_case and random_looking)


def _mask_id(match: re.Match[str]) -> str:
    before, token = match.group(1, 2)
    prefix = _ID_PREFIX.match(token)
    head = prefix.end() if prefix is not None else 0
    return before + token[:head] + "<id>" if is_generated_id(token[head:]) else match.group()


def _mask_ids(text: str) -> str:
    return _ID_RUN.sub(_mask_id, " " + text)[1:]


def _may_have_status(text: str) -> bool:
    """False only when the status rule cannot match: none of its words in any case."""
    lower = text.lower()
    return "http" in lower or "code" in lower or "status" in lower or "\u017f" in lower


Replacement = str | Callable[[re.Match[str]], str]
# (pattern, replacement, gate): the rule runs only when ``gate`` is None or true for the current text.
# Every gate is a necessary condition for a match (something the pattern requires), never a heuristic.
Rule = tuple[re.Pattern[str], Replacement, Callable[[str], object] | None]

# \b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b
_EMAIL: Rule = (re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), "<email>", lambda text: "@" in text)
# \b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b   with re.IGNORECASE
_UUID: Rule = (
    re.compile(rf"{_HEXCHAR}(?<!\w{_HEXCHAR}){_HEXCHAR}{{7}}(?:-{_HEXCHAR}{{4}}){{3}}-{_HEXCHAR}{{12}}\b"),
    "<uuid>",
    re.compile(rf"-{_HEXCHAR}{{4}}-{_HEXCHAR}{{4}}-").search,
)
_HEX: Rule = (_HEX_RUN, _mask_hex_run, None)
# The rules before generated ids, in order (sig1 applied these and the two after ids).
_RULES: list[Rule] = [
    (_STATUS, r"\1\2s\3", _may_have_status),
    _EMAIL,
    _UUID,
    # \b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b
    (
        re.compile(r"\d(?<!\w\d)\d{3}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b"),
        "<time>",
        re.compile(r"-\d\d-").search,
    ),
    (re.compile(r"\b\d{2}:\d{2}:\d{2}(?:[.,]\d+)?\b"), "<time>", re.compile(r":\d\d:").search),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b"), "<ip>", re.compile(r"\.\d{1,3}\.\d").search),
    _HEX,
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<hex>", lambda text: "0x" in text or "0X" in text),
    (re.compile(r"'[^'\n]{0,200}'"), "'<str>'", lambda text: "'" in text),
    (re.compile(r"\"[^\"\n]{0,200}\""), '"<str>"', lambda text: '"' in text),
]
_AFTER_IDS: list[Rule] = [
    # A port after a name (host:5432).   (?<=[a-z]):\d{2,5}\b   with re.IGNORECASE
    (re.compile(r":(?<=[a-z]:)\d{2,5}\b", re.I), ":<port>", None),
    # A number not glued to a letter or digit on its left ('s404' and 'v2' stay).
    # (?<![A-Za-z0-9])[-+]?\d+(?:\.\d+)?
    (re.compile(r"[-+\d](?<![A-Za-z0-9][-+\d])(?:(?<=[-+])\d+|(?<=\d)\d*)(?:\.\d+)?"), "<n>", None),
]
_TARGET_RULES: list[Rule] = [_EMAIL, _UUID, _HEX, (re.compile(r"\d{5,}"), "<n>", None)]


def _mask_url(match: re.Match[str]) -> str:
    host = _URL_PORT.sub(":<port>", match.group(1))
    path = _URL_PATH_VARIABLE.sub("/<id>", match.group(2))
    return f"<url:{host}{path}>"


def _run(rules: list[Rule], text: str) -> str:
    for pattern, replacement, gate in rules:
        if gate is None or gate(text):
            text = pattern.sub(replacement, text)
    return text


def _apply(rules: list[Rule], text: str) -> str:
    if "://" in text:
        text = _URL.sub(_mask_url, text)
    return " ".join(_run(rules, text).split())  # runs of whitespace -> one space, none at the ends


def _mask(message: str) -> tuple[str, str]:
    """The masked message and the version of the rules it needed."""
    text = _run(_RULES, _URL.sub(_mask_url, message) if "://" in message else message)
    with_ids = _mask_ids(text)
    version = FIRST_VERSION if with_ids == text else SIGNATURE_VERSION
    return " ".join(_run(_AFTER_IDS, with_ids).split())[:500], version


def mask_message(message: str) -> str:
    """Replace the variable parts of a message so equal failures compare equal."""
    return _mask(message)[0]


@lru_cache(maxsize=4096)  # targets are few and repeat on every event
def mask_target(target: str | None) -> str:
    if not target:
        return ""
    return _apply(_TARGET_RULES, target)


def _digest(component: str, kind: str, target: str | None, masked: str, version: str = FIRST_VERSION) -> str:
    key = "\x1f".join((component.lower(), kind.lower(), mask_target(target), masked))
    if version != FIRST_VERSION:
        key = f"{version}\x1f{key}"
    return f"{version}:{hashlib.blake2b(key.encode(), digest_size=10).hexdigest()}"


# ------------------------------------------------------------------------------------- templates
#
# Masking costs tens of microseconds per message; most messages of one (component, kind, target) share
# a handful of shapes. So every masked message also becomes a *template*: a regex that accepts raw
# messages whose literal text is the same and whose variable parts have the shape the placeholders stand
# for (the same patterns masking uses). A later message that fits a known template gets that template's
# signature in one C-level ``fullmatch`` instead of a dozen substitutions. A message that fits no
# template is masked in full, so templates only ever skip work, and they must never change a result:
# signing in any order gives the same signatures as signing each message in a fresh process.
#
# Every placeholder is an atomic group: it takes what the greedy, left-to-right masking would take and
# never backtracks, which keeps a failed fit as cheap as a successful one. Where a placeholder's value
# could change what an *earlier* rule does to its surroundings, the template does not trust the fit
# alone:
#
# - A number right after a status word ("HTTP ", "code=") must not be a status code (the status rule
#   would have kept it), and a protected status phrase must have the exact spaces the status rule takes.
# - A placeholder glued to characters other rules look at ("<n>-<n>" may be a date, "<n>.<n>" an ip,
#   "<n>abc" a hash, "<hex>-..." a uuid, "<n>:<time>" a clock, "x:<n>" a port) captures its whole word,
#   and a fit stands only if that word masks the same on its own (words are masked independently, apart
#   from the guarded status rule).
# - A number glued to id characters ("x-<n>", "<n>ms") could make its word a generated id: the word is
#   checked with the id rule, when it is long enough to be one. A generated id is always checked.
# - Quoted values are accepted up to 80 characters: masking the inside at most makes it 2.5 times as long
#   (a url path of one-digit segments), so it stays within the quote rule's 200. A message with a quote
#   the quote rule left alone gets no template, since a value of another length could close it.

_PLACEHOLDERS: dict[str, str] = {
    "<n>": r"[-+]?\d+(?:\.\d+)?",
    "<uuid>": r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}",
    "<hex>": r"(?:0[xX][0-9a-fA-F]+|(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,})",
    "<time>": r"(?:\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
    r"|\d{2}:\d{2}:\d{2}(?:[.,]\d+)?)",
    "<ip>": r"(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?",
    # With the rule's word boundaries: "-0000000@b.co" masks to "-<email>", not "<email>".
    "<email>": r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b",
    "'<str>'": r"'[^'\n]{0,80}'",
    '"<str>"': r'"[^"\n]{0,80}"',
    ":<port>": r":\d{2,5}",
    "<id>": rf"[{_ID_CHARS}]++",
}
_URL_SEGMENT = r"(?>/[^/\s?#'\"<>]*\d[^/\s?#'\"<>]*)"
# A status phrase as masking leaves it: 'HTTP/1.1 404' is 'HTTP/<n> s404'.
_MASKED_STATUS = re.compile(rf"(?P<word>{_STATUS_WORD.format(version='(?:/<n>)?')})(?P<sep>[:= ]+)s(?=[1-5]\d\d\b)")
_TEMPLATE_TOKEN = re.compile(
    rf"{_MASKED_STATUS.pattern}"
    r"|<url:[^<>\s]*(?:<(?:id|port)>[^<>\s]*)*>|'<str>'|\"<str>\"|:<port>|<(?:n|uuid|hex|time|ip|email|id)>"
    r"|\s+"
)
_NOT_STATUS = r"(?![1-5]\d\d\b)"
_ID_CHAR = frozenset(string.ascii_letters + string.digits + "_-")
_QUOTES = frozenset("'\"")
# Next to a number, these let another rule see a different thing when the number changes: a date or uuid
# (-), an ip address (.), a hash (hex letters), a 0x number (x), a sign (+).
_NUMBER_LEFT = frozenset(".")
_NUMBER_RIGHT = frozenset(".-+abcdefABCDEFxX")
_NOT_A_NUMBER = re.compile(r"<(?!n>)|:<port>")  # a placeholder other than <n>
# Literal characters an id-run can hold and still never be an id: a number with a lower-case unit or
# lower-case words around it (no upper case, no other digit).
_NEVER_ID = frozenset(string.ascii_lowercase + "_-")
_MAX_TEMPLATES = 16  # per (component, kind, target); the oldest is dropped beyond that


class _Template(NamedTuple):
    pattern: re.Pattern[str]
    signature: str
    checks: tuple[tuple[str, bool], ...]
    """Per capture group: the masked text the raw word must give, and whether to mask it in full
    (True) or only to make sure the id rule leaves it alone (False)."""

    def fits(self, message: str) -> bool:
        match = self.pattern.fullmatch(message)
        return match is not None and (not self.checks or _words_agree(match, self.checks))


def _words_agree(match: re.Match[str], checks: tuple[tuple[str, bool], ...]) -> bool:
    for group, (expected, in_full) in enumerate(checks, 1):
        word = match.group(group)
        if in_full:
            if mask_message(word) != expected:
                return False
        elif len(word) >= 8 and _mask_ids(word) != word:
            return False
    return True


_templates: dict[tuple[str, str, str | None], list[_Template]] = {}


def _url_regex(placeholder: str) -> str:
    body = placeholder[len("<url:") : -1]
    host, _, path = body.partition("/")
    host_rx = re.escape(host).replace(re.escape(":<port>"), r":\d+")
    path_rx = (
        "".join(_URL_SEGMENT if segment == "<id>" else "/" + re.escape(segment) for segment in path.split("/"))
        if path
        else ""
    )
    return rf"(?i:https?|wss?|ftp)://{host_rx}{path_rx}(?:[?#][^\s'\"<>]*)?"


def _status_regex(phrase: re.Match[str]) -> str:
    word = re.escape(phrase["word"]).replace(re.escape("/<n>"), r"/\d(?:\.\d)?")
    sep = "".join(" +" if c == " " else re.escape(c) for c in phrase["sep"])
    return rf"(?<!\w){word}{sep}"  # the code's digits follow as literal text


@dataclass(slots=True)
class _Unit:
    """One piece of a template: literal text, a run of whitespace, a status phrase or a placeholder."""

    start: int
    end: int
    regex: str
    kind: str  # "word" (id characters), "punct" (other text), "space", "status" or the placeholder: "<n>"...


_TEXT_RUN = re.compile(rf"[{_ID_CHARS}]+|[^{_ID_CHARS}]+")


def _status_context(lowered: str, start: int) -> bool:
    """Whether a status code could follow ``lowered[:start]``: it ends in a status word and separators
    (``(?:http\\S*|status|code)[:= ]*$``; masked text has single spaces)."""
    core = lowered[:start].rstrip(":= ")
    return core.endswith(("status", "code")) or "http" in core[core.rfind(" ") + 1 :]


def _units(masked: str, version: str) -> list[_Unit] | None:
    units: list[_Unit] = []
    lowered = masked.lower().replace("\u017f", "s")

    def text(start: int, end: int) -> None:  # literal text, in runs of id characters and of the others
        for run in _TEXT_RUN.finditer(masked, start, end):
            kind = "word" if run.group()[0] in _ID_CHAR else "punct"
            units.append(_Unit(run.start(), run.end(), re.escape(run.group()), kind))

    position = 0
    for token in _TEMPLATE_TOKEN.finditer(masked):
        piece, start, end = token.group(), token.start(), token.end()
        text(position, start)
        if piece[0].isspace():
            units.append(_Unit(start, end, r"\s++", "space"))
        elif piece.startswith("<url:"):
            units.append(_Unit(start, end, f"(?>{_url_regex(piece)})", "<url>"))
        elif piece[0] not in "<'\":":
            phrase = _MASKED_STATUS.match(masked, start)
            assert phrase is not None
            units.append(_Unit(start, end, _status_regex(phrase), "status"))
        else:
            if piece == "<id>" and version == FIRST_VERSION:
                return None  # '<id>' was literal text in the message
            body = _PLACEHOLDERS[piece]
            if _status_context(lowered, start):
                body = f":{_NOT_STATUS}{body[1:]}" if piece == ":<port>" else _NOT_STATUS + body
            units.append(_Unit(start, end, f"(?>{body})", piece))
        position = end
    text(position, len(masked))
    if any(unit.kind == "punct" and not _QUOTES.isdisjoint(masked[unit.start : unit.end]) for unit in units):
        return None  # a quote the quote rule left alone: a value of another length could close it
    return units


def _needs_word_check(masked: str, unit: _Unit, word: str) -> bool:
    """Whether the placeholder's value could change what an earlier rule makes of its word."""
    left = masked[unit.start - 1] if unit.start else ""
    right = masked[unit.end] if unit.end < len(masked) else ""
    if left == ">" or right == "<":
        return True  # glued to another placeholder
    if unit.kind in ("<n>", ":<port>"):
        # A colon next to it matters when the word could hold a clock (another colon, or another
        # placeholder, which may stand for colons), or when it is a port after a name.
        colon = ":" in (left, right) and (
            word.count(":") >= 2
            or _NOT_A_NUMBER.search(word) is not None
            or (left == ":" and unit.start >= 2 and masked[unit.start - 2].isalpha())
        )
        return colon or left in _NUMBER_LEFT or right in _NUMBER_RIGHT
    if unit.kind == "<hex>":
        return "-" in (left, right)
    return False


def _spans(masked: str, units: list[_Unit]) -> list[tuple[int, int, bool]]:
    """Unit index ranges [first, last] to capture, with whether the word is masked in full."""

    def grow(index: int, inside: Callable[[_Unit], bool]) -> tuple[int, int]:
        first = last = index
        while first > 0 and inside(units[first - 1]):
            first -= 1
        while last + 1 < len(units) and inside(units[last + 1]):
            last += 1
        return first, last

    def in_word(unit: _Unit) -> bool:  # a run without whitespace, quote placeholders or status phrases
        return unit.kind not in ("space", "status", "'<str>'", '"<str>"')

    def in_id_run(unit: _Unit) -> bool:
        return unit.kind in ("<n>", "word")

    spans: dict[tuple[int, int], bool] = {}
    for index, unit in enumerate(units):
        if unit.kind in ("word", "punct", "space", "status"):
            continue
        first, last = grow(index, in_word)
        if unit.kind == "<id>" or _needs_word_check(masked, unit, masked[units[first].start : units[last].end]):
            spans[first, last] = True
    for index, unit in enumerate(units):
        if unit.kind != "<n>":
            continue
        first, last = grow(index, in_id_run)
        literal = {c for u in units[first : last + 1] if u.kind == "word" for c in masked[u.start : u.end]}
        if literal and not literal <= _NEVER_ID and not any(a <= first and last <= b for a, b in spans):
            spans.setdefault((first, last), False)
    return sorted((first, last, in_full) for (first, last), in_full in spans.items())


def _template(masked: str, version: str, signature: str) -> _Template | None:
    """A template accepting raw messages that mask to ``masked``; None when that cannot be said exactly."""
    compiled = _compile_template(masked, version)
    return None if compiled is None else _Template(compiled[0], signature, compiled[1])


@lru_cache(maxsize=2048)  # one message shape often fails for several targets: build its regex once
def _compile_template(masked: str, version: str) -> tuple[re.Pattern[str], tuple[tuple[str, bool], ...]] | None:
    if len(masked) >= 500:
        return None  # masked text was truncated: the tail is unknown
    units = _units(masked, version)
    if units is None:
        return None
    spans = _spans(masked, units)
    opening = {first: i for i, (first, _, _) in enumerate(spans)}
    closing = {last for _, last, _ in spans}
    parts = [r"\s*+"]
    for index, unit in enumerate(units):
        if index in opening:
            parts.append("(")
        parts.append(unit.regex)
        if index in closing:
            parts.append(")")
    parts.append(r"\s*+")
    try:
        pattern = re.compile("".join(parts))
    except re.error:
        return None
    checks = tuple((masked[units[first].start : units[last].end], in_full) for first, last, in_full in spans)
    return pattern, checks


def compute_signature(component: str, kind: str, target: str | None, message: str) -> str:
    """The grouping key of an event. Stable across processes, machines and Python versions, and
    independent of what was signed before."""
    key = (component, kind, target)
    known = _templates.get(key)
    if known is not None:
        for pattern, signature, checks in known:  # _Template.fits, inlined: this loop is most of intake
            match = pattern.fullmatch(message)
            if match is not None and (not checks or _words_agree(match, checks)):
                return signature
    masked, version = _mask(message)
    signature = _digest(component, kind, target, masked, version)
    template = _template(masked, version, signature)
    if template is not None and template.fits(message):  # only templates that accept their own source
        known = _templates.setdefault(key, [])
        known.append(template)
        if len(known) > _MAX_TEMPLATES:
            del known[0]
        if len(_templates) > 50_000:  # bound memory for pathological streams of ever-new targets
            _templates.clear()
    return signature


def reset_caches() -> None:
    """Forget learned templates and cached targets (benchmarks start cold with this)."""
    _templates.clear()
    _compile_template.cache_clear()
    mask_target.cache_clear()


def issue_id_for(signature: str) -> str:
    """Issue ids are short, derived from the signature, so every store and replica agrees on them."""
    return "iss_" + signature.split(":", 1)[1][:12]
