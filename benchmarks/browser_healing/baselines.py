"""Baseline matchers the benchmark compares against.

- ``original``: the selector the agent used on v1, run unchanged on v2 (recorded in the browser).
- ``codegen``: a selector regenerated from v1 in Playwright's preference order (test id, role + name,
  placeholder, label, alt, text, title, non-random #id, CSS path), run on v2 (recorded in the browser).
- ``tree-path LCS``: the matcher style of existing locator-healing tools: similarity = longest common
  subsequence of the root-to-element tag paths plus overlap of attributes and text; the best candidate
  is always taken (no refusal).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from healing_mcp.components.browser.fingerprint import ElementFingerprint
from healing_mcp.components.browser.matching.scorer import lcs_length as _lcs

_INDEX = re.compile(r"\[\d+\]")


def _path_tags(xpath: str) -> list[str]:
    return [p for p in _INDEX.sub("", xpath).split("/") if p]


def _attr_pairs(fp: ElementFingerprint) -> set[tuple[str, str]]:
    pairs = {(k, v) for k, v in fp.attributes.items()}
    for key in ("id", "name", "type", "role", "href", "placeholder", "aria_label", "alt", "title", "value", "test_id"):
        value = getattr(fp, key)
        if value:
            pairs.add((key, value))
    pairs.update(("class", c) for c in fp.classes)
    if fp.text:
        pairs.add(("text", " ".join(fp.text.split()).lower()))
    return pairs


def lcs_match(stored: ElementFingerprint, candidates: Sequence[ElementFingerprint]) -> int | None:
    """Index of the most similar candidate (never refuses unless there are no candidates)."""
    tags = [*_path_tags(stored.xpath), stored.tag]
    pairs = _attr_pairs(stored)
    best: tuple[float, int] | None = None
    for i, c in enumerate(candidates):
        ctags = [*_path_tags(c.xpath), c.tag]
        path = _lcs(tags, ctags) / max(len(tags), len(ctags))
        cpairs = _attr_pairs(c)
        union = pairs | cpairs
        attrs = len(pairs & cpairs) / len(union) if union else 0.0
        score = 0.5 * path + 0.5 * attrs
        if best is None or score > best[0]:
            best = (score, i)
    return best[1] if best else None
