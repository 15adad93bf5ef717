"""Issue signatures: the same failure with different ids lands in one issue; different failures do not.

A signature is built from structured fields (component, symptom kind, target) plus the message with
its variable parts masked. Masking replaces, in this order: urls (keeping host and path shape), emails,
uuids, timestamps, ip addresses with ports, hex hashes, quoted values, ports and numbers. The result is
hashed and prefixed with the algorithm version (``sig1:``) so a future change of masking rules yields
new signatures instead of silently regrouping old issues.

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

Only urls, and hex runs long enough to be a hash, go through a Python callback.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from functools import lru_cache

SIGNATURE_VERSION = "sig1"

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
_STATUS = re.compile(
    r"([HhCcSs\u017f](?<!\w[HhCcSs\u017f])(?:(?<=[Hh])[Tt][Tt][Pp](?:/\d(?:\.\d)?)?"
    r"|(?<=[Ss\u017f])[Tt][Aa][Tt][Uu][Ss\u017f](?: [Cc][Oo][Dd][Ee])?|(?<=[Cc])[Oo][Dd][Ee]))"
    r"([:= ]+)([1-5]\d\d)\b"
)
# A run of 8+ hex digits standing alone as a word is a hash when it mixes digits and letters; the
# callback keeps any other run as it is.
# \b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b   with re.IGNORECASE
_HEX_RUN = re.compile(rf"{_HEXCHAR}(?<!\w{_HEXCHAR}){_HEXCHAR}{{7,}}\b")
_HAS_DIGIT = re.compile(r"\d")
_HAS_HEX_LETTER = re.compile(r"[a-fA-F]")


def _mask_hex_run(match: re.Match[str]) -> str:
    run = match.group()
    return "<hex>" if _HAS_DIGIT.search(run) and _HAS_HEX_LETTER.search(run) else run


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


def _apply(rules: list[Rule], text: str) -> str:
    if "://" in text:
        text = _URL.sub(_mask_url, text)
    for pattern, replacement, gate in rules:
        if gate is None or gate(text):
            text = pattern.sub(replacement, text)
    return " ".join(text.split())  # runs of whitespace -> one space, none at the ends


def mask_message(message: str) -> str:
    """Replace the variable parts of a message so equal failures compare equal."""
    return _apply(_RULES, message)[:500]


@lru_cache(maxsize=4096)  # targets are few and repeat on every event
def mask_target(target: str | None) -> str:
    if not target:
        return ""
    return _apply(_TARGET_RULES, target)


def _digest(component: str, kind: str, target: str | None, masked: str) -> str:
    key = "\x1f".join((component.lower(), kind.lower(), mask_target(target), masked))
    return f"{SIGNATURE_VERSION}:{hashlib.blake2b(key.encode(), digest_size=10).hexdigest()}"


# ------------------------------------------------------------------------------------- templates
#
# Masking costs tens of microseconds per message; most messages of one (component, kind, target) share
# a handful of shapes. So every masked message also becomes a *template*: a regex that accepts exactly
# the raw messages whose literal text is the same and whose variable parts have the shape the
# placeholders stand for (the same patterns masking uses). A later message that fits a known template
# gets that template's signature in one C-level ``fullmatch`` instead of a dozen substitutions. A
# message that fits no template is masked in full, so templates only ever skip work: different literal
# text never fits, and a fit has the same masked form by construction. Every placeholder is an atomic
# group: it takes what the greedy, left-to-right masking would take and never backtracks, which keeps a
# failed fit as cheap as a successful one.

_PLACEHOLDERS: dict[str, str] = {
    "<n>": r"[-+]?\d+(?:\.\d+)?",
    "<uuid>": r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}",
    "<hex>": r"(?:0[xX][0-9a-fA-F]+|(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,})",
    "<time>": r"(?:\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
    r"|\d{2}:\d{2}:\d{2}(?:[.,]\d+)?)",
    "<ip>": r"(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?",
    "<email>": r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
    "'<str>'": r"'[^'\n]{0,200}'",
    '"<str>"': r'"[^"\n]{0,200}"',
    ":<port>": r":\d{2,5}",
}
_URL_SEGMENT = r"(?>/[^/\s?#'\"<>]*\d[^/\s?#'\"<>]*)"
_TEMPLATE_TOKEN = re.compile(
    r"<url:[^<>\s]*(?:<(?:id|port)>[^<>\s]*)*>|'<str>'|\"<str>\"|:<port>|<(?:n|uuid|hex|time|ip|email)>"
    r"|(?<=[:= ])s(?=[1-5]\d\d\b)"  # a protected status code: 'HTTP s502' stands for 'HTTP 502'
    r"|\s+"
)
_MAX_TEMPLATES = 16  # per (component, kind, target); the oldest is dropped beyond that
_templates: dict[tuple[str, str, str | None], list[tuple[re.Pattern[str], str]]] = {}


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


def _template(masked: str) -> re.Pattern[str] | None:
    """The regex of raw messages that mask to ``masked``; None when that cannot be said exactly."""
    if len(masked) >= 500:
        return None  # masked text was truncated: the tail is unknown
    parts = [r"\s*+"]
    position = 0
    for match in _TEMPLATE_TOKEN.finditer(masked):
        parts.append(re.escape(masked[position : match.start()]))
        piece = match.group()
        if piece.startswith("<url:"):
            parts.append(f"(?>{_url_regex(piece)})")
        elif piece == "s":
            parts.append("")  # the protected status code's digits follow as literal text
        elif piece[0].isspace():
            parts.append(r"\s++")
        else:
            parts.append(f"(?>{_PLACEHOLDERS[piece]})")
        position = match.end()
    parts.append(re.escape(masked[position:]) + r"\s*+")
    try:
        return re.compile("".join(parts))
    except re.error:
        return None


def compute_signature(component: str, kind: str, target: str | None, message: str) -> str:
    """The grouping key of an event. Stable across processes, machines and Python versions."""
    key = (component, kind, target)
    known = _templates.get(key)
    if known is not None:
        for fitted, signature in known:
            if fitted.fullmatch(message):
                return signature
    masked = mask_message(message)
    signature = _digest(component, kind, target, masked)
    pattern = _template(masked)
    if pattern is not None and pattern.fullmatch(message):  # only templates that accept their own source
        known = _templates.setdefault(key, [])
        known.append((pattern, signature))
        if len(known) > _MAX_TEMPLATES:
            del known[0]
        if len(_templates) > 50_000:  # bound memory for pathological streams of ever-new targets
            _templates.clear()
    return signature


def reset_caches() -> None:
    """Forget learned templates and cached targets (benchmarks start cold with this)."""
    _templates.clear()
    mask_target.cache_clear()


def issue_id_for(signature: str) -> str:
    """Issue ids are short, derived from the signature, so every store and replica agrees on them."""
    return "iss_" + signature.split(":", 1)[1][:12]
