"""Secrets never leave the process: connection strings, tokens, keys, sensitive fields."""

from __future__ import annotations

import pytest

from healing_mcp.redact import MASK, redact, redact_text

SECRETS = [
    ("postgres://app:s3cr3t-pw@db.example.com:5432/prod", "s3cr3t-pw"),
    ("postgresql://postgres.abcd:Sup3rSecret@aws-0-eu.pooler.supabase.com:6543/postgres", "Sup3rSecret"),
    ("Authorization: Bearer abcdef0123456789xyz", "abcdef0123456789xyz"),
    ("key eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJlMTIz used", "c2lnbmF0dXJlMTIz"),
    ("ANTHROPIC_API_KEY=sk-ant-api03-abcdefghijklmnop", "abcdefghijklmnop"),
    ("token ghp_0123456789abcdefghijABCDEFGHIJ", "ghp_0123456789abcdefghij"),
    ("https://x.example/cb?access_token=tok123456&state=1", "tok123456"),
    ('{"password": "hunter2", "user": "bob"}', "hunter2"),
    ("SUPABASE_SERVICE_ROLE_KEY: sb_secret_abcdefghijklmn", "sb_secret_abcdefghijklmn"),
    ("aws AKIAABCDEFGHIJKLMNOP leaked", "AKIAABCDEFGHIJKLMNOP"),
]


@pytest.mark.parametrize(("text", "secret"), SECRETS)
def test_secrets_are_masked(text: str, secret: str) -> None:
    cleaned = redact_text(text)
    assert secret not in cleaned
    assert MASK in cleaned


def test_ordinary_text_is_untouched() -> None:
    text = "selector #buy-button not found on https://shop.example.com/cart after 3000 ms (user bob@x.com)"
    assert redact_text(text) == text


def test_structures_are_walked_and_sensitive_keys_masked() -> None:
    data = {
        "headers": {"Authorization": "Basic dXNlcjpwYXNz", "Accept": "json"},
        "db": ["postgres://u:p4ss@h/db"],
        "apiKey": "anything",
        "count": 3,
        "empty_token": "",
    }
    cleaned = redact(data)
    assert cleaned["headers"]["Authorization"] == MASK
    assert cleaned["headers"]["Accept"] == "json"
    assert "p4ss" not in cleaned["db"][0]
    assert cleaned["apiKey"] == MASK
    assert cleaned["count"] == 3
    assert cleaned["empty_token"] == ""


def test_long_lines_do_not_backtrack() -> None:
    # Quadratic regexes would take seconds here; this must stay fast enough for every event line.
    line = "a://" + "x" * 50_000 + " password " + "y" * 50_000
    assert redact_text(line).startswith("a://")


@pytest.mark.parametrize(
    "text",
    [
        "/srv/app/cfg/secret:prod.json",
        "secret:prod.json",
        'label:has-text("Password:")',
        "private_key=server.key",
        "invalid token provided",
        "Basic authentication failed for bob",
        "input[name=password]",
    ],
)
def test_ordinary_words_after_sensitive_ones_are_left_alone(text: str) -> None:
    assert redact_text(text) == text


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("PGPASSWORD=s3cret-value", "s3cret-value"),
        ("password: hunter2", "hunter2"),
        ("Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
        ('{"client_secret":"abc123"}', "abc123"),
        ("redis://:p4ssw0rd@cache:6379/0", "p4ssw0rd"),
    ],
)
def test_real_secrets_next_to_those_words_are_still_masked(text: str, secret: str) -> None:
    assert secret not in redact_text(text)
