"""The decision: accept the best candidate, or refuse and say why; and how confident to be.

See the package docstring (``matching/__init__.py``) for the rules in plain words.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel, Field

from healing_mcp.components.browser.fingerprint import ElementFingerprint
from healing_mcp.components.browser.matching.elements import (
    FORM_CONTROLS,
    ancestor_ids,
    attr_map,
    href_key,
    in_region,
    other_record,
    role_similarity,
    stable_classes,
    tag_similarity,
)
from healing_mcp.components.browser.matching.query import (
    DEFAULT_MIN_MARGIN,
    DEFAULT_THRESHOLD,
    MIN_CONTEXT,
    MIN_CONTEXT_RELABELLED,
    SELECTOR_MIN_MARGIN,
    TOP_K,
    Query,
    make_query,
)
from healing_mcp.components.browser.matching.ranking import Ranked, rank, runner_up
from healing_mcp.components.browser.matching.scorer import Scorer
from healing_mcp.components.browser.matching.selector_hints import SelectorHints
from healing_mcp.components.browser.matching.surroundings import same_surroundings
from healing_mcp.components.browser.matching.text import (
    ident_tokens,
    is_random_id,
    normalize_text,
    text_similarity,
    text_tokens,
    tokens_close,
)

# Logistic calibration (see "Confidence" in the package docstring), fitted on the development sets.
CALIBRATION_A = 2.81
CALIBRATION_B = 2.73
CALIBRATION_C = 1.85
CALIBRATION_D = -6.29  # added when the best candidate failed a consistency check (unconfirmed, selector)
CALIBRATION_E = 0.34  # added when there is no stored fingerprint (matched from the failed selector alone)


# ------------------------------------------------------------------------------------------- models


class ScoredCandidate(BaseModel):
    index: int
    score: float
    confidence: float
    summary: str = ""
    evidence: dict[str, float] = Field(default_factory=dict)
    ruled_out: str = ""  # why it cannot be the target whatever the others are ("" if it can)


class MatchResult(BaseModel):
    healed: bool
    index: int | None = None
    confidence: float = 0.0
    reason: str
    ranked: list[ScoredCandidate] = Field(default_factory=list)
    margin: float = 0.0  # score of the best candidate minus the runner-up's (see "Decision")
    confirmed: bool = False  # the best candidate passed the consistency checks and, without a stored
    # fingerprint, the selector check (see "Decision")
    set_aside: list[ScoredCandidate] = Field(default_factory=list)  # outscored it but were ruled out
    rule: str = ""  # "" when healed, else the rule that refused: threshold, ambiguous, unconfirmed,
    # selector, hidden, disabled, no-candidates, no-evidence


def _scored(r: Ranked, candidates: Sequence[ElementFingerprint], confidence: float) -> ScoredCandidate:
    return ScoredCandidate(
        index=r.index,
        score=round(r.score, 4),
        confidence=round(confidence, 4),
        summary=candidates[r.index].summary(),
        evidence={k: round(v, 3) for k, v in r.evidence.items()},
        ruled_out=r.ruled_out,
    )


def confidence_of(score: float, margin: float, *, confirmed: bool = True, from_selector: bool = False) -> float:
    """Calibrated probability that the top candidate is the right element (see module docstring)."""
    z = CALIBRATION_A * score + CALIBRATION_B * margin + CALIBRATION_C
    if not confirmed:
        z += CALIBRATION_D
    if from_selector:
        z += CALIBRATION_E
    if z < -40:
        return 0.0
    return 1.0 / (1.0 + math.exp(-z))


_EVIDENCE_NAMES = {
    "test_id": "test id",
    "id": "id",
    "text": "text",
    "attributes": "attributes",
    "href": "link target",
    "tag": "tag",
    "role": "role",
    "position": "position in the tree",
    "bbox": "place on the page",
    "classes": "classes",
    "neighbors": "surrounding text",
    "ancestors": "ancestors",
    "selector": "selector words",
}


def _evidence_words(ev: dict[str, float]) -> str:
    same = [_EVIDENCE_NAMES[k] for k, v in ev.items() if k in _EVIDENCE_NAMES and v >= 0.99]
    similar = [_EVIDENCE_NAMES[k] for k, v in ev.items() if k in _EVIDENCE_NAMES and 0.5 <= v < 0.99]
    parts = []
    if same:
        parts.append("same " + ", ".join(same))
    if similar:
        parts.append("similar " + ", ".join(similar))
    return "; ".join(parts) or "weak evidence only"


def _named(scorer: Scorer, ev: dict[str, float]) -> bool:
    """A test id or hand-written id (nearly) equal to the stored one, carried by no other candidate:
    names that a page gives one element only."""
    q = scorer.q
    shared = scorer.shared
    if ev.get("test_id", 0.0) >= 0.9 and not shared.get("test_id"):
        return True
    return ev.get("id", 0.0) >= 0.9 and not q.id_random and not shared.get("id")


def _anchored(scorer: Scorer, c: ElementFingerprint, ev: dict[str, float]) -> bool:
    """An identity attribute vouches for the candidate: test id, hand-written id, link target or form
    field name (nearly) equal to the stored one, and carried by no other candidate."""
    q = scorer.q
    shared = scorer.shared
    if _named(scorer, ev):
        return True
    if ev.get("href", 0.0) >= 0.9 and not shared.get("href"):
        return True
    return bool(q.fp.name) and q.fp.name == c.name and not shared.get("name")


def _same_element(q: Query, c: ElementFingerprint, ev: dict[str, float]) -> bool:
    """The candidate is the stored element word for word: same tag, role, label, stable classes,
    attributes and link target; only its place changed."""
    return (
        c.tag == q.tag
        and c.role == q.fp.role
        and ev.get("text", 0.0) >= 0.99
        and stable_classes(c.classes) == q.classes
        and attr_map(c) == attr_map(q.fp)
        and ev.get("href", 1.0) >= 0.99
    )


def _left_region(scorer: Scorer, c: ElementFingerprint, ev: dict[str, float]) -> str:
    """The target's region (its nearest ancestor with a hand-written id or a stable class) is still
    on the page and the candidate is outside it, though it is not the stored element word for word:
    more likely a look-alike elsewhere (the main menu's "Home" once the breadcrumb's is gone) than the
    target moved. Link targets and field names do not vouch here: pages repeat them across regions."""
    q = scorer.q
    if not q.region or in_region(q.region, c.ancestors) or _same_element(q, c, ev):
        return ""
    if scorer.region_present:
        return f"the target's region {q.region} is still on the page, it is outside it and not the same element"
    return ""


def _ruled_out(scorer: Scorer, i: int) -> str:
    """Why candidate ``i`` cannot be the target whatever the others are, or "": it is set aside both as
    the answer and as a rival (see "Decision")."""
    q = scorer.q
    if q.from_selector:
        return ""
    candidate = scorer.candidates[i]
    ev = scorer.identity_evidence(i)
    if _named(scorer, ev):
        return ""
    if left := _left_region(scorer, candidate, ev):
        return left
    if q.href is not None and candidate.href and other_record(q.href[0], href_key(candidate.href)[0]):
        return "it links to another record (same route, other id)"
    # The target's record (an ancestor with a hand-written id) is still there and the candidate is not
    # in it: only the stored element word for word, the one element of its kind with that label, can
    # have moved out; anything else is another record's look-alike.
    moved = ev.get("unique_label", 0.0) >= 1.0 and _same_element(q, candidate, ev)
    if ev.get("records", 1.0) < 1.0 and not moved:
        present = (q.record_ids - ancestor_ids(candidate.ancestors)) & scorer.page_record_ids
        if present:
            return f"the target's container #{sorted(present)[0]} is still on the page, and it is not in there"
    if ev.get("tag", 1.0) == 0.0 and ev.get("role", 1.0) == 0.0 and not _anchored(scorer, candidate, ev):
        return f"it is a different kind of element ({candidate.tag}, not {q.tag})"
    return ""


def _veto(scorer: Scorer, top: Ranked, candidate: ElementFingerprint) -> str:
    """Why the best candidate must not be taken although it scores well, or "" (see "Decision")."""
    q = scorer.q
    ev = top.evidence
    if _anchored(scorer, candidate, ev):
        return ""
    context = ev.get("neighbors")
    if scorer.crowd >= 2 and ev.get("text", 0.0) >= 0.9 and context is not None and context < MIN_CONTEXT:
        # Look-alikes already ruled out (another record's, another region's) are told apart.
        crowd = sum(1 for i in scorer.look_alikes if i == top.index or not _ruled_out(scorer, i))
        if crowd >= 2:
            return f"{crowd} elements carry the target's label and none sits in its surroundings"
    if q.from_selector:
        return ""  # the rules below compare with a full fingerprint; see _selector_gate instead
    if "text" in ev and ev["text"] < 0.9:
        own = normalize_text(candidate.accessible_name or candidate.text)
        if own and own in {normalize_text(t) for t in q.fp.neighbor_texts}:
            return "it was one of the target's neighbours"
        # The less the label agrees, the more of the surroundings must, word for word.
        needed = MIN_CONTEXT_RELABELLED + (1.0 - MIN_CONTEXT_RELABELLED) * 0.75 * (1.0 - ev["text"] / 0.9)
        if context is None or context < needed or same_surroundings(q.fp, candidate) < 0.5:
            return "its label changed, and neither an identity attribute nor its surroundings confirm it"
        if ev.get("text", 0.0) < 0.5 and candidate.tag != q.tag:
            return f"its label and its kind changed ({candidate.tag}, not {q.tag})"
    return ""


def _label_covered(q: Query, c: ElementFingerprint) -> float:
    """Share of the candidate's label words that the failed selector's words account for."""
    label = text_tokens(c.accessible_name or c.text)
    if not label:
        return 1.0
    words = {w for w, _ in q.words}
    covered = sum(1 for t in label if t in words or any(tokens_close(t, w) for w in words))
    return covered / len(label)


def _identifiers_covered(q: Query, c: ElementFingerprint) -> float:
    """Share of the candidate's identifier words (hand-written id, test id, name) that the failed
    selector's words account for: ``#su-password`` does not describe ``#su-password_confirm``."""
    idents = set(ident_tokens(c.test_id)) | set(ident_tokens(c.name))
    if c.id and not is_random_id(c.id):
        idents.update(ident_tokens(c.id))
    if not idents:
        return 1.0
    words = {w for w, _ in q.words}
    return sum(1 for t in idents if t in words) / len(idents)


def _says_all_of(q: Query, c: ElementFingerprint) -> bool:
    """Every word of the selector's label is in the candidate's: "Save Rattan basket" is not the
    "Rattan basket" link (the selector named an action on it)."""
    wanted = set(text_tokens(" ".join(q.labels)))
    have = set(text_tokens(f"{c.accessible_name} {c.text}"))
    return bool(wanted) and all(w in have or any(tokens_close(w, h) for h in have) for w in wanted)


_WORDED_ATTRIBUTES = frozenset({"placeholder", "alt", "title", "aria-label", "value"})


def _attribute_agreement(key: str, wanted: str, have: str) -> float:
    if wanted == have:
        return 1.0
    if key in _WORDED_ATTRIBUTES:
        return text_similarity(wanted, have)
    # Identifiers (name, for, data-*...): every word of the named one must be there, since
    # ``password_confirm`` is not ``password``.
    words = set(ident_tokens(have))
    return text_similarity(wanted, have) if set(ident_tokens(wanted)) <= words else 0.0


def _hinted_attributes(hints: SelectorHints, c: ElementFingerprint) -> float:
    """Worst agreement between the attribute values the selector names and the candidate's (0 if none)."""
    named = {"placeholder": hints.placeholder, "alt": hints.alt, "title": hints.title, **hints.attributes}
    named = {k: v for k, v in named.items() if v}
    if not named:
        return 0.0
    have = {**c.attributes, "placeholder": c.placeholder, "alt": c.alt, "title": c.title, "name": c.name,
            "type": c.type, "value": c.value}  # fmt: skip
    return min(_attribute_agreement(k, v, have.get(k) or "") for k, v in named.items())


def _selector_gate(
    q: Query, top: Ranked, candidate: ElementFingerprint, margin: float, candidates: Sequence[ElementFingerprint]
) -> str:
    """Without a reference run, heal only when what the selector says clearly names the candidate."""
    hints = q.hints
    if hints is None:
        return "no selector"
    ev = top.evidence
    if hints.tag and tag_similarity(hints.tag, candidate.tag) < 0.5:
        return f"the selector asks for <{hints.tag}>, the best candidate is <{candidate.tag}>"
    if hints.role and role_similarity(hints.role, candidate.role) < 0.6:
        return f"the selector asks for role {hints.role}, the best candidate is {candidate.role or 'without role'}"
    labelled = candidate.tag in FORM_CONTROLS or candidate.aria_label or "aria-labelledby" in candidate.attributes
    if hints.label and not labelled:
        return f"the selector asks for a labelled control, the best candidate is <{candidate.tag}>"
    scope = set(hints.scope_ids)
    outside = bool(scope) and not scope & ancestor_ids(candidate.ancestors)
    if outside and any(scope & ancestor_ids(c.ancestors) for c in candidates):
        return f"the selector looks inside #{hints.scope_ids[0]}, which is still there; the best candidate is not"
    if margin < SELECTOR_MIN_MARGIN:
        return f"without a reference run a lead of {SELECTOR_MIN_MARGIN:.2f} is needed, this one has {margin:.2f}"
    if ev.get("text", 0.0) >= 0.9 or ev.get("test_id", 0.0) >= 0.9 or ev.get("id", 0.0) >= 0.9:
        return ""
    clear_lead = margin >= 2 * SELECTOR_MIN_MARGIN
    if ev.get("text", 0.0) >= 0.6 and clear_lead and _says_all_of(q, candidate):
        return ""  # a longer label ("Email" -> "Email address"), far ahead of anything else
    if _hinted_attributes(hints, candidate) >= (0.6 if clear_lead else 0.99):
        return ""
    # Every word of the selector is on the candidate and none of its own identifiers says otherwise.
    words_fit = ev.get("selector", 0.0) >= 0.8 and _identifiers_covered(q, candidate) >= 0.99
    if words_fit and (_label_covered(q, candidate) >= 0.6 or margin >= 2 * SELECTOR_MIN_MARGIN):
        return ""
    return "what the failed selector says does not clearly name it"


def match_element(
    stored: ElementFingerprint | None,
    candidates: Sequence[ElementFingerprint],
    *,
    failed_selector: str | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    min_margin: float = DEFAULT_MIN_MARGIN,
) -> MatchResult:
    """Find the element of ``candidates`` that ``stored`` (or ``failed_selector``) describes, or refuse.

    See the module docstring for the features, the decision rules and the confidence calibration.
    """
    query = make_query(stored, failed_selector)
    if query is None:
        return MatchResult(
            healed=False, rule="no-evidence", reason="nothing to match on: no stored fingerprint and no usable selector"
        )
    if not candidates:
        return MatchResult(healed=False, rule="no-candidates", reason="the page has no candidate elements")
    scorer = Scorer(query, candidates)

    def rule_out(i: int) -> str:
        return _ruled_out(scorer, i)

    ranked, aside = rank(scorer, TOP_K, rule_out)
    if not ranked and not aside:
        return MatchResult(
            healed=False, rule="no-evidence", reason="nothing to compare: the fingerprint has no usable fields"
        )
    if not ranked:
        first = aside[0]
        return MatchResult(
            healed=False, rule="unconfirmed", confirmed=False, confidence=round(confidence_of(first.score, 0.0,
            confirmed=False), 4), set_aside=[_scored(first, candidates, 0.0)],
            reason=f"no candidate is left: the best, {candidates[first.index].summary()} (score {first.score:.2f}),"
            f" is set aside: {first.ruled_out}",
        )  # fmt: skip
    runner = runner_up(ranked, candidates)
    if runner is None and len(ranked) == TOP_K:
        # Every near candidate is nested in the best one: look further for a real runner-up.
        ranked, aside = rank(scorer, TOP_K * 4, rule_out)
        runner = runner_up(ranked, candidates)
        if runner is None and len(ranked) == TOP_K * 4:
            runner = ranked[-1]  # conservative: compare with the weakest one seen
        ranked = ranked[:TOP_K] if runner is None or runner in ranked[:TOP_K] else [*ranked[: TOP_K - 1], runner]
    top = ranked[0]
    top_fp = candidates[top.index]
    runner_score = runner.score if runner else 0.0
    margin = top.score - runner_score
    veto = _veto(scorer, top, top_fp)
    gate = _selector_gate(query, top, top_fp, margin, candidates) if query.from_selector and not veto else ""
    confirmed = not veto and not gate
    mode = query.from_selector
    confidence = confidence_of(top.score, margin, confirmed=confirmed, from_selector=mode)
    scored = [
        _scored(r, candidates, confidence_of(r.score, r.score - top.score, from_selector=mode))
        if r is not top
        else _scored(r, candidates, confidence)
        for r in ranked
    ]
    # Candidates that outscored the chosen one but were set aside, and why: shown so that nobody
    # wonders why the obvious look-alike was not taken.
    outscored = [r for r in aside if r.score > top.score][:TOP_K]
    set_aside = [
        _scored(r, candidates, confidence_of(r.score, r.score - top.score, confirmed=False)) for r in outscored
    ]
    described = f"{top_fp.summary()} (score {top.score:.2f}"
    described += f", next best {runner_score:.2f} {candidates[runner.index].summary()})" if runner else ")"
    if outscored:
        first = outscored[0]
        described += f"; set aside: {candidates[first.index].summary()} (score {first.score:.2f}): {first.ruled_out}"
    rule, refusal = "", ""
    if top.score < threshold:
        rule = "threshold"
        refusal = f"no candidate is similar enough: best is {described}, below the threshold {threshold:.2f}"
    elif margin < min_margin:
        rule = "ambiguous"
        refusal = f"ambiguous: two candidates are about as similar: {described}; margin {margin:.2f}"
    elif veto:
        rule = "unconfirmed"
        refusal = f"the best candidate is unconfirmed: {veto}: {described}"
    elif gate:
        rule = "selector"
        refusal = f"not healed from the selector alone: {gate}: {described}"
    elif not top_fp.visible and (query.from_selector or query.fp.visible):
        rule = "hidden"
        refusal = f"the best candidate is hidden: {described}"
    elif not top_fp.enabled and (query.from_selector or query.fp.enabled):
        rule = "disabled"
        refusal = f"the best candidate is disabled: {described}"
    common = {"confidence": round(confidence, 4), "ranked": scored, "margin": margin, "confirmed": confirmed,
              "set_aside": set_aside}  # fmt: skip
    if refusal:
        return MatchResult(healed=False, index=None, reason=refusal, rule=rule, **common)
    source = "the failed selector" if query.from_selector else "the stored fingerprint"
    reason = f"matched {described} against {source}: {_evidence_words(top.evidence)}"
    return MatchResult(healed=True, index=top.index, reason=reason, **common)
