"""Issue signatures: the same failure with different ids lands in one issue; different failures do not.

A signature is built from structured fields (component, symptom kind, target) plus the message with
its variable parts masked. Masking replaces, in this order: urls (keeping host and path shape), emails,
uuids, timestamps, ip addresses with ports, hex hashes, quoted values, ports and numbers. The result is
hashed and prefixed with the algorithm version (``sig1:``) so a future change of masking rules yields
new signatures instead of silently regrouping old issues.

The target is masked more lightly than the message: a selector or tool name is structure, so only
values that are clearly instance data (uuids, long hex, emails, long digit runs) are masked there.

Speed matters here (it runs for every event), so every rule is a single C-level ``re.sub`` with a
constant replacement; no Python callbacks on the hot path except for urls.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

SIGNATURE_VERSION = "sig1"

_URL = re.compile(r"\b(?:https?|wss?|ftp)://([^/\s?#'\"<>]+)([^\s?#'\"<>]*)(?:[?#][^\s'\"<>]*)?", re.I)
_URL_PATH_VARIABLE = re.compile(r"/(?=[^/]*\d)[^/]+")
# Status codes carry meaning (a 404 is not a 500): protect them from the number rule by gluing them to
# a letter, which the number rule's look-behind leaves alone.
_STATUS = re.compile(r"\b(HTTP(?:/\d(?:\.\d)?)?|status(?: code)?|code)([:= ]+)([1-5]\d\d)\b", re.I)
_RULES: list[tuple[re.Pattern[str], str]] = [
    (_STATUS, r"\1\2s\3"),
    (re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), "<email>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<uuid>"),
    (
        re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b"),
        "<time>",
    ),
    (re.compile(r"\b\d{2}:\d{2}:\d{2}(?:[.,]\d+)?\b"), "<time>"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b"), "<ip>"),
    (re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b", re.I), "<hex>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<hex>"),
    (re.compile(r"'[^'\n]{0,200}'"), "'<str>'"),
    (re.compile(r"\"[^\"\n]{0,200}\""), '"<str>"'),
    (re.compile(r"(?<=[a-z]):\d{2,5}\b", re.I), ":<port>"),
    (re.compile(r"(?<![A-Za-z0-9])[-+]?\d+(?:\.\d+)?"), "<n>"),
]
_TARGET_RULES: list[tuple[re.Pattern[str], str]] = [
    _RULES[1],
    _RULES[2],
    _RULES[6],
    (re.compile(r"\d{5,}"), "<n>"),
]
_SPACES = re.compile(r"\s+")


def _mask_url(match: re.Match[str]) -> str:
    host = re.sub(r":\d+$", ":<port>", match.group(1))
    path = _URL_PATH_VARIABLE.sub("/<id>", match.group(2))
    return f"<url:{host}{path}>"


def mask_message(message: str) -> str:
    """Replace the variable parts of a message so equal failures compare equal."""
    text = _URL.sub(_mask_url, message) if "://" in message else message
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return _SPACES.sub(" ", text).strip()[:500]


def mask_target(target: str | None) -> str:
    if not target:
        return ""
    text = _URL.sub(_mask_url, target) if "://" in target else target
    for pattern, replacement in _TARGET_RULES:
        text = pattern.sub(replacement, text)
    return _SPACES.sub(" ", text).strip()


@lru_cache(maxsize=16_384)  # logs repeat identical lines (the same timeout, the same 500) a lot
def compute_signature(component: str, kind: str, target: str | None, message: str) -> str:
    """The grouping key of an event. Stable across processes, machines and Python versions."""
    key = "\x1f".join((component.lower(), kind.lower(), mask_target(target), mask_message(message)))
    return f"{SIGNATURE_VERSION}:{hashlib.blake2b(key.encode(), digest_size=10).hexdigest()}"


def issue_id_for(signature: str) -> str:
    """Issue ids are short, derived from the signature, so every store and replica agrees on them."""
    return "iss_" + signature.split(":", 1)[1][:12]
