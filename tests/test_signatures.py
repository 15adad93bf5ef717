"""Signatures: the same failure with different variable parts groups together; different failures
never merge. Property-based, with the variable parts drawn by hypothesis."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from healing_mcp.core.signatures import SIGNATURE_VERSION, compute_signature, issue_id_for, mask_message

uuids = st.uuids().map(str)
numbers = st.integers(min_value=0, max_value=10**12).map(str)
hexes = st.text("0123456789abcdef", min_size=12, max_size=40).filter(
    lambda s: any(c.isdigit() for c in s) and any(c.isalpha() for c in s)
)
emails = st.from_regex(r"[a-z]{1,8}(\.[a-z]{1,5})?@[a-z]{2,8}\.(com|io|dev)", fullmatch=True)
timestamps = st.datetimes().map(lambda d: d.isoformat(timespec="seconds") + "Z")
ports = st.integers(min_value=1024, max_value=65535).map(str)
quoted = st.text(string.ascii_letters + string.digits + " -_", min_size=1, max_size=30)
path_ids = st.integers(min_value=1, max_value=10**9).map(str)

# Templates: '{}' slots receive variable parts of the given kind.
TEMPLATES = [
    ("request {uuid} failed after {num} ms", ("uuid", "num")),
    ("user {email} hit rate limit at {ts}", ("email", "ts")),
    ("GET https://api.example.com/orders/{pid}/items?page={num} returned HTTP 502", ("pid", "num")),
    ("connection to db.internal:{port} refused (commit {hex})", ("port", "hex")),
    ("render job {uuid} stuck in state 'queued' for {num}s", ("uuid", "num")),
    ("value '{quoted}' violates check constraint", ("quoted",)),
]
KINDS = {
    "uuid": uuids,
    "num": numbers,
    "email": emails,
    "ts": timestamps,
    "port": ports,
    "hex": hexes,
    "quoted": quoted,
    "pid": path_ids,
}


def fill(template: str, slots: tuple[str, ...], values: dict[str, str]) -> str:
    return template.format(**{slot: values[slot] for slot in slots})


def values_strategy() -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries(KINDS)


@settings(max_examples=300, deadline=None)
@given(index=st.integers(min_value=0, max_value=len(TEMPLATES) - 1), a=values_strategy(), b=values_strategy())
def test_same_failure_with_different_variable_parts_groups_together(
    index: int, a: dict[str, str], b: dict[str, str]
) -> None:
    template, slots = TEMPLATES[index]
    first = compute_signature("supabase", "query_failed", "orders", fill(template, slots, a))
    second = compute_signature("supabase", "query_failed", "orders", fill(template, slots, b))
    assert first == second


words = st.text(string.ascii_lowercase, min_size=3, max_size=10)


@settings(max_examples=300, deadline=None)
@given(w1=words, w2=words, value=values_strategy())
def test_different_wording_does_not_merge(w1: str, w2: str, value: dict[str, str]) -> None:
    if w1 == w2:
        return
    first = compute_signature("browser", "timeout", "#buy", f"waiting for {w1} of request {value['uuid']}")
    second = compute_signature("browser", "timeout", "#buy", f"waiting for {w2} of request {value['uuid']}")
    assert first != second


@settings(max_examples=100, deadline=None)
@given(
    i=st.integers(min_value=0, max_value=len(TEMPLATES) - 1),
    j=st.integers(min_value=0, max_value=len(TEMPLATES) - 1),
    value=values_strategy(),
)
def test_different_templates_do_not_merge(i: int, j: int, value: dict[str, str]) -> None:
    if i == j:
        return
    (t1, s1), (t2, s2) = TEMPLATES[i], TEMPLATES[j]
    assert compute_signature("x", "k", None, fill(t1, s1, value)) != compute_signature(
        "x", "k", None, fill(t2, s2, value)
    )


@given(
    target_a=st.sampled_from(["#buy", "#sell", "text=Sign in", "orders.discount"]),
    target_b=st.sampled_from(["#buy", "#sell", "text=Sign in", "orders.discount"]),
)
def test_structured_fields_separate_issues(target_a: str, target_b: str) -> None:
    message = "element not found"
    assert (
        compute_signature("browser", "selector_not_found", target_a, message)
        == compute_signature("browser", "selector_not_found", target_b, message)
    ) == (target_a == target_b)
    assert compute_signature("browser", "timeout", "#buy", message) != compute_signature(
        "browser", "selector_not_found", "#buy", message
    )
    assert compute_signature("browser", "timeout", "#buy", message) != compute_signature(
        "marketing", "timeout", "#buy", message
    )


def test_status_codes_are_not_masked_away() -> None:
    assert compute_signature("api", "http", None, "GET /x returned HTTP 404") != compute_signature(
        "api", "http", None, "GET /x returned HTTP 500"
    )
    assert compute_signature("api", "http", None, "GET /x returned HTTP 500 after 120ms") == compute_signature(
        "api", "http", None, "GET /x returned HTTP 500 after 3000ms"
    )


def test_url_keeps_host_and_path_shape() -> None:
    assert "<url:api.example.com/orders/<id>>" in mask_message("GET https://api.example.com/orders/42?x=1 failed")
    assert compute_signature("a", "k", None, "GET https://api.example.com/orders/1") != compute_signature(
        "a", "k", None, "GET https://api.example.com/users/1"
    )


def test_signature_is_versioned_and_stable() -> None:
    sig = compute_signature("browser", "selector_not_found", "#buy", "locator('#buy') resolved to 0 elements")
    assert sig.startswith(f"{SIGNATURE_VERSION}:")
    # Pinned: a change of masking or hashing must come with a new version prefix, never silently
    # regroup the issues people already have.
    assert sig == "sig1:465682756e25f352ef11"
    assert issue_id_for(sig) == "iss_" + sig.split(":")[1][:12]
    assert compute_signature("Browser", "SELECTOR_NOT_FOUND", "#buy", "locator('#buy') resolved to 0 elements") == sig


@settings(max_examples=400, deadline=None)
@given(
    index=st.integers(min_value=0, max_value=len(TEMPLATES) - 1),
    values=st.lists(values_strategy(), min_size=1, max_size=4),
    noise=st.text(string.ascii_letters + string.digits + " .:-'\"/@", max_size=40),
)
def test_template_fast_path_agrees_with_full_masking(index: int, values: list[dict[str, str]], noise: str) -> None:
    """A message that fits a cached template gets exactly the signature full masking would give it."""
    from healing_mcp.core.signatures import _digest

    template, slots = TEMPLATES[index]
    for value in values:
        for message in (fill(template, slots, value), fill(template, slots, value) + " " + noise, noise):
            expected = _digest("api", "failure", "t", mask_message(message))
            assert compute_signature("api", "failure", "t", message) == expected
