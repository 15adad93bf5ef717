"""Ranking: the exact top candidates by full score, without scoring every feature of every candidate.

:func:`rank` orders candidates by their cheap (identity) score and computes the lazy features only
while a candidate's optimistic bound can still reach the top ``k``: the result is exactly what scoring
every candidate fully would give. Candidates the decision rules out (from identity evidence alone) take
no place in the top and are returned apart. :func:`runner_up` finds the best real rival of the top candidate:
elements nested in it or around it with the same label (the ``<span>`` inside a ``<button>``) are the
same action, not rivals.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from healing_mcp.components.browser.fingerprint import ElementFingerprint
from healing_mcp.components.browser.matching.query import TOP_K, make_query
from healing_mcp.components.browser.matching.scorer import Scorer
from healing_mcp.components.browser.matching.text import normalize_text


def nested(a: ElementFingerprint, b: ElementFingerprint) -> bool:
    """One element contains the other (same frame): e.g. a button and the span holding its label."""
    if a.frame != b.frame or not a.xpath or not b.xpath:
        return False
    x, y = a.xpath, b.xpath
    if len(x) > len(y):
        x, y = y, x
    return y.startswith(x) and (len(y) == len(x) or y[len(x)] == "/")


def _same_meaning(a: ElementFingerprint, b: ElementFingerprint) -> bool:
    """Nested elements that carry the same label: acting on either is the same action."""
    if not nested(a, b):
        return False
    la = normalize_text(a.accessible_name or a.text)
    lb = normalize_text(b.accessible_name or b.text)
    return bool(la) and (la == lb or la in lb or lb in la)


@dataclass
class Ranked:
    index: int
    score: float
    evidence: dict[str, float]
    ruled_out: str = ""  # why the decision set this candidate aside (see ``rank``), "" if it did not


def rank(scorer: Scorer, top_k: int, rule_out: Callable[[int], str] | None = None) -> tuple[list[Ranked], list[Ranked]]:
    """The exact ``top_k`` by full score, and the best few candidates set aside on the way.

    Lazy features are computed only while ``(cheap + all lazy weight) / total`` can still beat the k-th
    best full score. ``rule_out(i)`` says why candidate ``i`` cannot be the target whatever the others
    are (or ""), from cheap evidence only; those it rules out take no place in the top, and are scored
    fully only while they could still outscore the best one (to say what was set aside and why)."""
    total = scorer.total
    n = len(scorer.candidates)
    if total <= 0 or n == 0:
        return [], []
    cheap = scorer.cheap
    extra = scorer.lazy_total
    order = sorted(range(n), key=cheap.__getitem__, reverse=True)
    best: list[Ranked] = []  # best first, at most top_k
    aside: list[Ranked] = []  # likewise, for the candidates ruled out
    floor = -1.0
    for i in order:
        bound = (cheap[i] + extra) / total
        if bound < floor:
            break
        why = rule_out(i) if rule_out is not None else ""
        if why:
            if (not best or bound > best[0].score) and (len(aside) < top_k or bound > aside[-1].score):
                aside.append(Ranked(i, scorer.full_score(i), scorer.evidence(i), why))
                aside.sort(key=lambda r: (-r.score, r.index))
                del aside[top_k:]
            continue
        score = scorer.full_score(i)
        if len(best) < top_k or score > floor:
            best.append(Ranked(i, score, scorer.evidence(i)))
            best.sort(key=lambda r: (-r.score, r.index))
            del best[top_k:]
            if len(best) == top_k:
                floor = best[-1].score
    return best, aside


def score_candidates(
    stored: ElementFingerprint | None,
    candidates: Sequence[ElementFingerprint],
    *,
    failed_selector: str | None = None,
    top_k: int = TOP_K,
) -> list[tuple[int, float, dict[str, float]]]:
    """The ``top_k`` best candidates as ``(index, score, evidence)``, best first (exact, pruned search)."""
    query = make_query(stored, failed_selector)
    if query is None:
        return []
    return [(r.index, r.score, r.evidence) for r in rank(Scorer(query, candidates), top_k)[0]]


def runner_up(ranked: list[Ranked], candidates: Sequence[ElementFingerprint]) -> Ranked | None:
    top = candidates[ranked[0].index]
    return next((r for r in ranked[1:] if not _same_meaning(top, candidates[r.index])), None)
