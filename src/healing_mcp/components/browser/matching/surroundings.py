"""Evidence from an element's surroundings: the texts around it and the record it belongs to.

A fingerprint's ``neighbor_texts`` hold the control's label, the nearest textual siblings, the text of
its record (table row, card, list item) and the nearest heading. Among look-alikes (the "Edit" of every
row) they are what tells the target apart, so they are compared with care:
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from healing_mcp.components.browser.fingerprint import ElementFingerprint
from healing_mcp.components.browser.matching.query import W_NEIGHBOR_WORDS
from healing_mcp.components.browser.matching.text import normalize_text, text_tokens


def neighbor_values(
    stored: ElementFingerprint, stored_tokens: frozenset[str], candidates: Sequence[ElementFingerprint]
) -> list[float]:
    """IDF-weighted share of the stored neighbour words, and of the stored neighbour texts word for
    word, found around each candidate (``W_NEIGHBOR_WORDS`` : the rest).

    Inverse document frequency is taken over the candidates' neighbours: words and texts around every
    element of the page ("Edit", "Delete", a table heading) weigh little, those around few ("Alice
    Nguyen", a row's own text) weigh a lot, and look-alikes differ exactly in those. Sums are exact
    (``math.fsum``), so the result does not depend on set order.
    """
    per_text: dict[str, frozenset[str]] = {}
    hits: list[frozenset[str]] = []
    df = dict.fromkeys(stored_tokens, 0)
    for c in candidates:
        found: frozenset[str] = frozenset()
        for text in c.neighbor_texts:
            words = per_text.get(text)
            if words is None:
                words = per_text[text] = frozenset(text_tokens(text)) & stored_tokens
            if words:
                found = found | words
        hits.append(found)
        for tok in found:
            df[tok] += 1
    n = len(candidates)
    # Squared: template words shared by many records must not outvote the one name that differs.
    idf = {tok: math.log((n + 1.0) / (count + 1.0)) ** 2 for tok, count in df.items()}
    total = math.fsum(idf.values())
    if total <= 0:
        return [0.0] * n
    # Word for word agreement of whole texts counts too: it is what a reordering of the page or a
    # single volatile heading leaves intact, and it does not hinge on one rare word. Whole texts are
    # weighed by their rarity as well: a row's own text ("Alice Rossi alice.rossi@... Admin") says
    # which row, a heading above every row ("Members") does not.
    stored_texts = list(dict.fromkeys(normalize_text(t) for t in stored.neighbor_texts))
    wanted = set(stored_texts)
    exact_by_texts: dict[tuple[str, ...], frozenset[str]] = {}
    text_df = dict.fromkeys(stored_texts, 0)
    present: list[frozenset[str]] = []
    for c in candidates:
        key = tuple(c.neighbor_texts)
        have = exact_by_texts.get(key)
        if have is None:
            have = exact_by_texts[key] = frozenset(normalize_text(t) for t in key) & wanted
        present.append(have)
        for text in have:
            text_df[text] += 1
    text_idf = {t: math.log((n + 1.0) / (count + 1.0)) ** 2 for t, count in text_df.items()}
    text_total = math.fsum(text_idf.values())
    by_set: dict[frozenset[str], float] = {}
    by_texts: dict[frozenset[str], float] = {}
    out: list[float] = []
    for found, have in zip(hits, present, strict=True):
        value = by_set.get(found)
        if value is None:
            value = by_set[found] = math.fsum(idf[t] for t in found) / total
        exact = by_texts.get(have)
        if exact is None:
            exact = by_texts[have] = math.fsum(text_idf[t] for t in have) / text_total if text_total > 0 else 0.0
        out.append(W_NEIGHBOR_WORDS * value + (1.0 - W_NEIGHBOR_WORDS) * exact)
    return out


def same_surroundings(stored: ElementFingerprint, candidate: ElementFingerprint) -> float:
    """Share of the stored neighbour texts found word for word around the candidate."""
    if not stored.neighbor_texts:
        return 0.0
    around = {normalize_text(t) for t in candidate.neighbor_texts}
    return sum(1 for t in stored.neighbor_texts if normalize_text(t) in around) / len(stored.neighbor_texts)
