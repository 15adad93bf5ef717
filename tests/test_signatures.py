"""Signatures: the same failure with different variable parts groups together; different failures
never merge. Property-based, with the variable parts drawn by hypothesis."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healing_mcp.core.signatures import (
    FIRST_VERSION,
    SIGNATURE_VERSION,
    compute_signature,
    is_generated_id,
    issue_id_for,
    mask_message,
    reset_caches,
)

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
    # Pinned: a change of masking or hashing must come with a new version prefix, never silently
    # regroup the issues people already have. A message the current rules mask as the first rules did
    # keeps its first signature (and so its issue, memory and audit trail).
    assert sig == f"{FIRST_VERSION}:465682756e25f352ef11"
    assert issue_id_for(sig) == "iss_" + sig.split(":")[1][:12]
    assert compute_signature("Browser", "SELECTOR_NOT_FOUND", "#buy", "locator('#buy') resolved to 0 elements") == sig
    with_id = compute_signature("billing", "charge_failed", None, "charge for customer cus_NffrFeUfNV2Hib declined")
    assert with_id == f"{SIGNATURE_VERSION}:d927524cd0872b439a29", "only messages the new rules mask differently"


GENERATED_IDS = [
    "cus_NffrFeUfNV2Hib",
    "pi_3MtwBwLkdIwHu7ix28a3tqPa",
    "evt_1NG8Du2eZvKYlo2CDqn2wSep",
    "req_8f9a2b3c4d",
    "01ARZ3NDEKTSV4RRFFQ69G5FAV",  # ULID
    "01HZZZZZZZZZZZZZZZZZZZZZZZ",  # ULID with no digit in its random part
    "V1StGXR8_Z5jdHi6B-myT",  # nanoid
    "Uakgb_J5m9g-0JDMbcJqLJ",
    "abc123xyz",
    "a1b2c3d4",
    "x7Kp2mQ9",
    "NffrFeUfNV2Hib",
    "order12345678",
]
ORDINARY_WORDS = [
    "utf8",
    "http2",
    "h264",
    "base64",
    "oauth2",
    "sha256",
    "Float64Array",
    "Int32Array",
    "Base64Encoder",
    "windows10",
    "md5checksum",
    "x86_64-linux-gnu",
    "utf8mb4_unicode_ci",
    "PGRST116",
    "ES2015",
    "120000ms",
    "3000000bytes",
    "test_function1",
    "node-18-alpine",
    "api-v2-worker-3",
    "order-service-v2",
]


@pytest.mark.parametrize("token", GENERATED_IDS)
def test_generated_ids_are_masked(token: str) -> None:
    masked = mask_message(f"no record {token} in the ledger")
    assert token not in masked
    assert masked.endswith(("<id> in the ledger", "<hex> in the ledger")), masked  # a1b2c3d4 reads as hex


def test_ids_of_one_kind_group_together_and_keep_their_prefix() -> None:
    assert mask_message("charge cus_NffrFeUfNV2Hib failed") == "charge cus_<id> failed"
    first = compute_signature("billing", "charge_failed", None, "charge cus_NffrFeUfNV2Hib failed")
    assert first == compute_signature("billing", "charge_failed", None, "charge cus_Q8mZtR2pLx7Wab failed")
    assert first != compute_signature("billing", "charge_failed", None, "charge pi_3MtwBwLkdIwHu7ix28a3 failed")
    for ulid in ("01ARZ3NDEKTSV4RRFFQ69G5FAV", "01BX5ZZKBKACTAV9WEVGEMMVRY"):
        assert mask_message(f"job {ulid} stuck") == "job <id> stuck"


@pytest.mark.parametrize("word", ORDINARY_WORDS)
def test_ordinary_words_with_digits_are_not_ids(word: str) -> None:
    assert not is_generated_id(word)
    assert "<id>" not in mask_message(f"failed in {word} while starting")


def test_status_codes_are_protected_on_the_template_fast_path_too() -> None:
    """Signatures never depend on what was signed before: a cached template for 'HTTP 0' must not
    swallow the status codes the status rule keeps apart."""
    reset_caches()
    zero = compute_signature("api", "http", None, "GET /x returned HTTP 0")
    not_found = compute_signature("api", "http", None, "GET /x returned HTTP 404")
    server_error = compute_signature("api", "http", None, "GET /x returned HTTP 500")
    assert len({zero, not_found, server_error}) == 3
    for cached in ("status code 7", "HTTP/1.1 9", "code:7", "HTTP 502", "status  code 404"):
        reset_caches()
        compute_signature("api", "http", None, cached)
        for message in (
            "status code 404",
            "HTTP/1.1 404",
            "code:404",
            "HTTP\t502",
            "HTTP/12.5 404",
            "status  code 500",
        ):
            expected = _fresh("api", "http", None, message)
            assert compute_signature("api", "http", None, message) == expected, (cached, message)


@pytest.mark.parametrize(
    ("first", "then"),
    [
        ("0:00:00:00", "10:00:00:00"),  # the clock starts one number earlier
        ("5-5-5", "2026-01-01"),  # numbers and dashes that make a date
        ("1.2.3", "10.1.2.3"),  # an ip address
        ("5abc", "12345678abc"),  # a hash
        ("ab-1-cD", "ab-123456-cD"),  # a longer number makes the word an id
        ("x:1", "x:5432"),  # a port after a name
        ("00000000@b.co", "-0000000@b.co"),  # the email rule starts at a word boundary
    ],
)
def test_a_cached_template_never_changes_a_later_signature(first: str, then: str) -> None:
    reset_caches()
    compute_signature("c", "k", None, first)
    assert compute_signature("c", "k", None, then) == _fresh("c", "k", None, then)


def _fresh(component: str, kind: str, target: str | None, message: str) -> str:
    """The signature full masking gives, as a fresh process would compute it."""
    from healing_mcp.core.signatures import _digest, _mask

    return _digest(component, kind, target, *_mask(message))


@settings(max_examples=400, deadline=None)
@given(
    index=st.integers(min_value=0, max_value=len(TEMPLATES) - 1),
    values=st.lists(values_strategy(), min_size=1, max_size=4),
    noise=st.text(string.ascii_letters + string.digits + " .:-'\"/@", max_size=40),
)
def test_template_fast_path_agrees_with_full_masking(index: int, values: list[dict[str, str]], noise: str) -> None:
    """A message that fits a cached template gets exactly the signature full masking would give it."""
    template, slots = TEMPLATES[index]
    for value in values:
        for message in (
            fill(template, slots, value),
            fill(template, slots, value) + " " + noise,
            noise,
            "GET /x returned HTTP 0",
            "GET /x returned HTTP 404",
            "GET /x returned HTTP 500",
        ):
            assert compute_signature("api", "failure", "t", message) == _fresh("api", "failure", "t", message)


# Message pieces for the order property: status words, separators and values that interact with the
# masking rules (dates, ip addresses, hashes, ids glued to words...).
_LITERALS = [
    "GET", "returned", "HTTP", "http", "HTTP/1.1", "HTTP/2", "HTTP/12.5", "status", "status code", "status  code",
    "Code:", "code", "xcode", "after", "ms", "x", "cus_", "req-", "ab-", "Ab", "_x", "-y", "order", "host",
    "db.internal", "(", ")", ",", "=", ":", "-", ".", "_", "@", "+", "T", "abc", "e", "e5", "0x", "x1f", "'",
    "https://", "ftp://h/a", "https://h/1", "<id>", "<n>", "T10:00", "10.1.2", "2026-01", "@b.co",
]  # fmt: skip
_SEPARATORS = ["", "", " ", " ", "  ", "\t", ":", "=", "-", ".", "_", "/", ", ", ": "]
_ALNUM = string.ascii_letters + string.digits
_SLOTS: dict[str, st.SearchStrategy[str]] = {
    "digit": st.integers(0, 9).map(str),
    "code": st.integers(100, 599).map(str),
    "number": st.integers(0, 10**9).map(str),
    "decimal": st.floats(0, 1000, allow_nan=False).map(lambda f: f"{f:.2f}"),
    "signed": st.integers(-999, 999).map(lambda i: f"{i:+d}"),
    "alnum": st.text(_ALNUM, min_size=4, max_size=16),
    "lower_alnum": st.text(string.ascii_lowercase + string.digits, min_size=6, max_size=14),
    "hex": st.text("0123456789abcdef", min_size=6, max_size=16),
    "uuid": uuids,
    "ip": st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t))),
    "date": st.dates().map(str),
    "clock": st.times().map(lambda t: t.strftime("%H:%M:%S")),
    "email": emails,
    "nanoid": st.text(_ALNUM + "_-", min_size=8, max_size=22),
    "quoted": st.text(_ALNUM + " :/", max_size=12).map(lambda s: f"'{s}'"),
}
_PIECE = st.one_of(
    st.sampled_from(_LITERALS).map(lambda s: ("literal", s)), st.sampled_from(sorted(_SLOTS)).map(lambda k: ("slot", k))
)


@st.composite
def message_batches(draw: st.DrawFn) -> list[str]:
    """Messages made from one or two skeletons with their slots filled differently: what templates see."""
    skeletons = draw(
        st.lists(
            st.lists(st.tuples(_PIECE, st.sampled_from(_SEPARATORS)), min_size=1, max_size=7), min_size=1, max_size=2
        )
    )
    messages = []
    for _ in range(draw(st.integers(2, 6))):
        parts = []
        for (kind, value), separator in draw(st.sampled_from(skeletons)):
            parts += [value if kind == "literal" else draw(_SLOTS[value]), separator]
        messages.append("".join(parts))
    return messages


@settings(max_examples=600, deadline=None)
@given(messages=message_batches())
def test_signing_in_any_order_gives_the_same_signatures(messages: list[str]) -> None:
    expected = [_fresh("c", "k", None, m) for m in messages]
    for order in (messages, messages[::-1]):
        reset_caches()
        signed = {m: compute_signature("c", "k", None, m) for m in order}
        assert [signed[m] for m in messages] == expected
