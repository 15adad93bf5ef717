"""Drift scoring between a stored and a fresh fingerprint of the same element."""

from __future__ import annotations

from healing_mcp.components.browser.fingerprint import ElementFingerprint
from healing_mcp.components.browser.wrapper import changed_fields, fingerprint_similarity


def test_similarity_scores() -> None:
    a = ElementFingerprint(tag="button", id="buy", classes=["btn"], text="Buy now", role="button")
    assert fingerprint_similarity(a, a) == 1.0
    counter = a.model_copy(update={"text": "Buy now (2)"})
    assert fingerprint_similarity(a, counter) > 0.9
    other = ElementFingerprint(tag="a", id="help", classes=["link"], text="Help", role="link")
    assert fingerprint_similarity(a, other) < 0.2
    assert changed_fields(a, counter) == ["text"]
