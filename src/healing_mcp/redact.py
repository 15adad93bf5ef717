"""Secret redaction for everything that leaves the process: logs, reports, evidence, audit and patches.

One function, :func:`redact`, walks strings, lists and dicts. Dict values under sensitive keys
(``password``, ``token``, ``apikey``, ``authorization``...) are replaced whole; strings are scrubbed of
recognisable secrets (bearer tokens, JWTs, provider keys, passwords inside connection strings and query
strings). Redaction is deliberately greedy: a false positive costs a ``[REDACTED]`` in a log line, a
false negative leaks a credential. Greedy is not blind, though: what follows a sensitive word is a secret
only if it can be one, so ``secret:prod.json`` (a file name), ``label:has-text("Password:")`` (no value)
and ``/cfg/secret:x`` (a path segment) stay, and a scheme word is followed by a token only if it looks
like one (digits or mixed case: ``Basic dXNlcjpwYXNz``, not ``Basic authentication``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

MASK = "[REDACTED]"

_SENSITIVE_KEY = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|api[-_]?key|apikey|auth(orization)?|cookie|session[-_]?id|"
    r"private[-_]?key|credential|service[-_]?role[-_]?key|access[-_]?key|dsn|database[-_]?url|conn(ection)?[-_]?string)",
    re.IGNORECASE,
)

# A file name is not a secret, even after a sensitive word (secret:prod.json, private_key=server.key).
_FILE_NAME = re.compile(r"[\w.-]*\.(?:json|ya?ml|toml|ini|cfg|conf|env|txt|log|csv|pem|crt|key|p12)", re.I)
_ALNUM = re.compile(r"[A-Za-z0-9]")
_DIGIT = re.compile(r"\d")
_UPPER = re.compile(r"[A-Z]")
_LOWER = re.compile(r"[a-z]")


def _mask_assignment(match: re.Match[str]) -> str:
    value = match["val"]
    if not _ALNUM.search(value) or _FILE_NAME.fullmatch(value):
        return match.group()
    return f"{match['key']}{match['q']}{MASK}"


def _mask_scheme_token(match: re.Match[str]) -> str:
    token = match[2]
    random_case = len(_UPPER.findall(token)) >= 2 and _LOWER.search(token) is not None
    if _DIGIT.search(token) or random_case or not token.isalpha():
        return f"{match[1]} {MASK}"
    return match.group()  # an ordinary word after "token" or "basic": "token provided", "Basic authentication"


Replacement = str | Callable[[re.Match[str]], str]
# (cheap substring tests on the lower-cased text, pattern, replacement), applied in order. The substring
# test skips the regex for the vast majority of lines, which contain no secret at all; the patterns are
# bounded so a long line cannot make them backtrack quadratically.
_RULES: list[tuple[tuple[str, ...], re.Pattern[str], Replacement]] = [
    # user:password@ inside URLs and connection strings (postgres://u:p@h, redis://:p@h)
    (
        ("://",),
        re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.-]{0,20}://)(?P<user>[^:/@\s]{0,100}):(?P<pw>[^@/\s]{1,200})@", re.I),
        rf"\g<scheme>\g<user>:{MASK}@",
    ),
    # Authorization headers and bearer tokens
    (
        ("bearer", "basic", "token"),
        re.compile(r"\b(bearer|basic|token)\s+([A-Za-z0-9._~+/=-]{8,})", re.I),
        _mask_scheme_token,
    ),
    # JSON Web Tokens (Supabase anon / service_role keys are JWTs)
    (("eyj",), re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"), MASK),
    # Provider keys with recognisable prefixes
    (
        ("sk-", "sb_", "gh", "github_pat_", "xox", "akia", "aiza"),
        re.compile(
            r"\b(sk-ant-[A-Za-z0-9_-]{10,}|sk-(proj-)?[A-Za-z0-9_-]{16,}|sb_(secret|publishable)_[A-Za-z0-9_-]{10,}"
            r"|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}"
            r"|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{30,})"
        ),
        MASK,
    ),
    # key=value and key: value pairs with sensitive keys (query strings, env dumps, DSNs, JSON text); not
    # a path segment that merely contains the word (/cfg/secret:prod.json)
    (
        ("pass", "secret", "token", "key", "credential"),
        re.compile(
            r"(?<![/\\])(?P<key>[\"']?\b[A-Za-z0-9_.-]{0,40}?(?:pass(?:word|wd)?|secret|token|api[-_]?key|apikey"
            r"|service[-_]?role[-_]?key|access[-_]?key|private[-_]?key|credential)s?[\"']?\s*[=:]\s*)"
            r"(?P<q>[\"']?)(?P<val>[^\s\"'&,;}]+)",
            re.I,
        ),
        _mask_assignment,
    ),
]


def redact_text(text: str) -> str:
    lower = text.lower()
    for needles, pattern, replacement in _RULES:
        if any(needle in lower for needle in needles):
            text = pattern.sub(replacement, text)
    return text


def is_sensitive_key(key: str) -> bool:
    return bool(_SENSITIVE_KEY.search(key))


def redact(value: Any) -> Any:
    """Return a copy of ``value`` with secrets masked. Non-container, non-string values pass through."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {
            k: (MASK if isinstance(k, str) and is_sensitive_key(k) and v not in (None, "") else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value
