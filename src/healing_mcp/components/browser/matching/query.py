"""The stored fingerprint (or the failed selector) prepared once per match, and the feature weights.

:func:`make_query` turns what is known about the target into a :class:`Query`: the stored fingerprint's
fields in the forms the features compare (tokens, stable classes, link path, ancestor tags...) and the
weight of every feature that applies. A feature applies only when the stored side has its data: a
stored element without text says nothing about text. Without a stored fingerprint, a partial one is
derived from the failed selector (:func:`~.selector_hints.parse_selector`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from healing_mcp.components.browser.fingerprint import ElementFingerprint
from healing_mcp.components.browser.matching.elements import (
    ancestor_ids,
    ancestor_tag,
    attr_map,
    class_tokens,
    href_key,
    neighbor_tokens,
    region_of,
    stable_classes,
)
from healing_mcp.components.browser.matching.selector_hints import SelectorHints, parse_selector
from healing_mcp.components.browser.matching.text import GENERIC_WORDS, ROLE_WORDS, ident_tokens, is_random_id

DEFAULT_THRESHOLD = 0.5
DEFAULT_MIN_MARGIN = 0.05
# Among look-alikes (several candidates with the stored label), the best must share at least this much
# of the stored neighbour texts (IDF-weighted); otherwise the heal would be a guess by position.
MIN_CONTEXT = 0.6
# A candidate whose label differs from the stored one needs this much of the stored surroundings (or an
# identity attribute) to be trusted: otherwise it is merely an element in a similar place.
MIN_CONTEXT_RELABELLED = 0.6

TOP_K = 4  # candidates ranked exactly and reported in MatchResult.ranked

W_TEST_ID = 4.0
W_ID_STABLE = 2.5
W_ID_RANDOM = 0.6
W_TEXT = 3.0
W_ATTRS = 1.2
W_HREF = 1.2
W_NEIGHBORS = 2.0
W_CLASSES = 1.2
W_TAG = 1.0
W_ROLE = 1.0
W_ANCESTORS = 1.0
W_POSITION = 1.0
W_BBOX = 0.7
W_VISIBLE = 0.5
W_FRAME = 0.5
W_SELECTOR = 0.8
W_SELECTOR_ONLY = 3.0
W_UNIQUE_LABEL = 1.5
W_ACTIONABLE = 0.3
W_SCOPE = 1.5
W_RECORDS = 1.0
# Without a reference run the evidence is thin: the best must lead by more.
SELECTOR_MIN_MARGIN = 0.1
W_NEIGHBOR_WORDS = 0.6  # share of the neighbours feature given to IDF-weighted words (rest: whole texts)


@dataclass
class Query:
    """The stored fingerprint, preprocessed once per match."""

    fp: ElementFingerprint
    from_selector: bool
    tag: str
    role: str
    test_id: str
    id: str
    id_random: bool
    id_tokens: tuple[str, ...]
    classes: frozenset[str]
    class_tokens: frozenset[str]
    labels: tuple[str, ...]
    attrs: dict[str, str]
    href: tuple[str, tuple[str, ...]] | None
    neighbor_tokens: frozenset[str]
    anc_tags: list[str]
    anc_set: frozenset[str]
    index_path: list[int]
    center: tuple[float, float] | None
    size: tuple[float, float] | None
    words: list[tuple[str, float]]
    hints: SelectorHints | None = None
    scope_words: frozenset[str] = frozenset()
    record_ids: frozenset[str] = frozenset()
    region: str = ""
    weights: dict[str, float] = field(default_factory=dict)


def build_query(stored: ElementFingerprint, from_selector: bool, hints: SelectorHints | None) -> Query:
    classes = stable_classes(stored.classes)
    labels = tuple(dict.fromkeys(t for t in (stored.accessible_name, stored.text) if t))
    attrs = attr_map(stored)
    if stored.aria_label and stored.aria_label in labels:
        attrs.pop("aria_label", None)  # already counted by the text feature
    words: list[tuple[str, float]] = []
    role_hint = ""
    for word in hints.words if hints else []:
        if word in ROLE_WORDS:
            role_hint = role_hint or ROLE_WORDS[word]
            words.append((word, 0.5))
        elif word in GENERIC_WORDS or len(word) < 2:
            words.append((word, 0.3))
        else:
            words.append((word, 1.0))
    bbox = stored.bbox
    box = bbox if bbox and len(bbox) == 4 and stored.visible and bbox[2] > 0 and bbox[3] > 0 else None
    q = Query(
        fp=stored,
        from_selector=from_selector,
        tag=stored.tag.lower(),
        role=stored.role or role_hint,
        test_id=stored.test_id,
        id=stored.id,
        id_random=is_random_id(stored.id),
        id_tokens=ident_tokens(stored.id),
        classes=classes,
        class_tokens=class_tokens(classes),
        labels=labels,
        attrs=attrs,
        href=href_key(stored.href) if stored.href else None,
        neighbor_tokens=neighbor_tokens(stored.neighbor_texts),
        anc_tags=[ancestor_tag(a) for a in stored.ancestors],
        anc_set=frozenset(stored.ancestors),
        index_path=list(stored.index_path),
        center=(box[0] + box[2] / 2, box[1] + box[3] / 2) if box else None,
        size=(box[2], box[3]) if box else None,
        words=words,
        hints=hints,
        scope_words=frozenset(hints.scope_words) if hints and from_selector else frozenset(),
        record_ids=ancestor_ids(stored.ancestors),
        region="" if from_selector else region_of(stored.ancestors),
    )
    w: dict[str, float] = {}
    # When the fingerprint comes from the failed selector, its id / test id / classes are exactly what
    # stopped matching: keep them as evidence, but lighter, and let the selector's words carry more.
    identity = 0.5 if from_selector else 1.0
    if q.test_id:
        w["test_id"] = W_TEST_ID * identity
    if q.id:
        w["id"] = (W_ID_RANDOM if q.id_random else W_ID_STABLE) * identity
    if q.labels:
        w["text"] = W_TEXT
    if q.attrs:
        w["attributes"] = W_ATTRS
    if q.href:
        w["href"] = W_HREF
    if q.tag:
        w["tag"] = W_TAG
    if q.role:
        w["role"] = W_ROLE if stored.role else W_ROLE * 0.5
    if q.index_path:
        w["position"] = W_POSITION
    if q.center:
        w["bbox"] = W_BBOX
    w["visible"] = W_VISIBLE
    if not from_selector or q.fp.frame:
        w["frame"] = W_FRAME
    if q.classes:
        w["classes"] = W_CLASSES * identity
    if q.neighbor_tokens:
        w["neighbors"] = W_NEIGHBORS
    if q.anc_tags:
        w["ancestors"] = W_ANCESTORS
    if words:
        w["selector"] = W_SELECTOR_ONLY if from_selector else W_SELECTOR
    if q.scope_words:
        w["scope"] = W_SCOPE
    if q.record_ids:
        w["records"] = W_RECORDS
    if from_selector and not q.tag and not q.role:
        # Selectors are written for elements an agent acts on: without a tag or role in the selector,
        # prefer links, buttons and form controls over the containers around them.
        w["actionable"] = W_ACTIONABLE
    q.weights = w
    return q


def make_query(stored: ElementFingerprint | None, failed_selector: str | None) -> Query | None:
    hints = parse_selector(failed_selector) if failed_selector else None
    if stored is not None:
        return build_query(stored, False, hints)
    if hints is None or hints.is_empty():
        return None
    return build_query(hints.to_fingerprint(), True, hints)
