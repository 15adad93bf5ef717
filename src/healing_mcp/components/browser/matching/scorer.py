"""Feature scoring: how similar each candidate is to the query, feature by feature.

:class:`Scorer` computes, for one query and one page of candidates, every feature similarity in [0, 1]
and the weighted score ``sum(w * s) / sum(w)`` over the features that apply (weights in ``query.py``).
Identity features (test id, id, text, tag, link target, surroundings) are computed for every
candidate up front, one array per feature, through per-call memo tables: the same text, classes or
ancestors on many elements cost one dict lookup. The other features are lazy: :func:`~.ranking.rank`
asks for them only while a candidate can still reach the top ranks.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import cached_property

from healing_mcp.components.browser.fingerprint import ElementFingerprint
from healing_mcp.components.browser.matching.elements import (
    ACTIONABLE_ROLES,
    ACTIONABLE_TAGS,
    ATTR_WEIGHT,
    ancestor_ids,
    ancestor_tag,
    attr_map,
    class_tokens,
    href_key,
    in_region,
    other_record,
    role_similarity,
    stable_classes,
    tag_similarity,
)
from healing_mcp.components.browser.matching.query import W_UNIQUE_LABEL, Query
from healing_mcp.components.browser.matching.surroundings import neighbor_values
from healing_mcp.components.browser.matching.text import (
    ROLE_WORDS,
    ident_tokens,
    is_random_id,
    text_similarity,
    text_tokens,
    token_similarity,
    tokens_close,
)

_NAMING_VALUE_TYPES = frozenset({"checkbox", "radio", "button", "submit", "reset"})


def _ident_similarity(a: str, a_tokens: tuple[str, ...], b: str) -> float:
    if not b:
        return 0.0
    if a == b:
        return 1.0
    return 0.7 * token_similarity(a_tokens, ident_tokens(b))


def _position_similarity(a: list[int], b: list[int]) -> float:
    if not b:
        return 0.0
    if a == b:
        return 1.0
    n = min(len(a), len(b))
    prefix = 0
    while prefix < n and a[prefix] == b[prefix]:
        prefix += 1
    score = 0.8 * prefix / max(len(a), len(b))
    return score + 0.2 if len(a) == len(b) else score


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two tag paths (also the tree-path baseline's core)."""
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def _candidate_words(c: ElementFingerprint) -> set[str]:
    words: set[str] = {c.tag, c.role, c.type}
    words.update(ident_tokens(c.id))
    words.update(ident_tokens(c.test_id))
    words.update(ident_tokens(c.name))
    for cls in c.classes:
        words.update(ident_tokens(cls))
    for text in (c.accessible_name, c.text[:80], c.aria_label, c.placeholder, c.title, c.alt):
        if text:
            tokens = text_tokens(text)
            words.update(tokens)
            words.update(tokens[i] + tokens[i + 1] for i in range(len(tokens) - 1))
    if c.href:
        words.update(href_key(c.href)[1])
    for word in list(words):
        if word in ROLE_WORDS:
            words.add(ROLE_WORDS[word])
    words.discard("")
    return words


class Scorer:
    """Scores the candidates of one page against one query.

    Identity features are computed for every candidate up front, one array per feature; per-call memo
    tables make repeated values (the same text, classes or ancestors on many elements) cost one dict
    lookup. The arrays also tell whether the stored element is one of a crowd of look-alikes and
    whether its identity attributes are shared. The other features are lazy (see :func:`rank`).
    """

    def __init__(self, q: Query, candidates: Sequence[ElementFingerprint]) -> None:
        self.q = q
        self.candidates = candidates
        self._labels: dict[tuple[str, str, str], float] = {}
        self._idents: dict[tuple[str, str], float] = {}
        self._attrs: dict[tuple[object, ...], float] = {}
        self._classes: dict[tuple[str, ...], float] = {}
        self._ancestors: dict[tuple[str, ...], float] = {}
        self._scopes: dict[tuple[str, ...], float] = {}
        self._records: dict[tuple[str, ...], float] = {}
        # Identity features, computed for every candidate (memo lookups, mostly). The rest is lazy.
        bulk = [("test_id", self.test_id), ("id", self.id), ("text", self.text), ("tag", self.tag), ("href", self.href)]
        lazy = [
            ("attributes", self.attributes), ("role", self.role), ("position", self.position),
            ("bbox", self.bbox), ("visible", self.visible), ("frame", self.frame), ("classes", self.classes),
            ("ancestors", self.ancestors), ("selector", self.selector), ("actionable", self.actionable),
            ("scope", self.scope), ("records", self.records),
        ]  # fmt: skip
        self.weights = dict(q.weights)
        self.values: dict[str, list[float]] = {
            name: [fn(c) for c in candidates] for name, fn in bulk if name in self.weights
        }
        if "neighbors" in self.weights:
            self.values["neighbors"] = neighbor_values(q.fp, q.neighbor_tokens, candidates)
        # Identity attributes vouch for a candidate only if no other candidate shares them.
        self.shared: dict[str, bool] = {
            name: sum(1 for v in self.values[name] if v >= 0.9) > 1
            for name in ("test_id", "id", "href")
            if name in self.values
        }
        self.shared["name"] = bool(q.fp.name) and sum(1 for c in candidates if c.name == q.fp.name) > 1
        self.crowd, unique = self._count_look_alikes()
        if self.crowd >= 2:
            # Among look-alikes only the surroundings and the link target (which record it opens)
            # tell which one is meant: they weigh more.
            for name in ("neighbors", "href"):
                if name in self.weights:
                    self.weights[name] *= min(3.0, 1.0 + math.log(self.crowd))
        if unique is not None:
            # A label that only one element of this kind carries identifies it well.
            self.weights["unique_label"] = W_UNIQUE_LABEL
            self.values["unique_label"] = [1.0 if i == unique else 0.0 for i in range(len(candidates))]
        self.lazy = [(name, self.weights[name], fn) for name, fn in lazy if name in self.weights]
        self.total = sum(self.weights.values())
        self.lazy_total = sum(weight for _, weight, _ in self.lazy)
        cheap = [0.0] * len(candidates)
        for name, values in self.values.items():
            weight = self.weights[name]
            cheap = [a + weight * b for a, b in zip(cheap, values, strict=True)]
        self.cheap = cheap

    @cached_property
    def region_present(self) -> bool:
        """The stored element's region (see :func:`~.elements.region_of`) is still on the page."""
        region = self.q.region
        return bool(region) and any(in_region(region, a) for a in {tuple(c.ancestors) for c in self.candidates})

    @cached_property
    def page_record_ids(self) -> frozenset[str]:
        """Hand-written ids of every candidate's ancestors: the records still on the page."""
        return frozenset(i for a in {tuple(c.ancestors) for c in self.candidates} for i in ancestor_ids(a))

    def _count_look_alikes(self) -> tuple[int, int | None]:
        """Candidates that carry the stored label and are the same kind of element (same role or tag),
        visible if the stored element was: the crowd the target must be told apart from (their indices
        are kept in ``look_alikes``). Also the index of the only candidate of that kind with exactly the
        stored label, if there is exactly one."""
        texts = self.values.get("text")
        self.look_alikes: list[int] = []
        if texts is None:
            return 0, None
        q = self.q
        exact: list[int] = []
        for i, (value, c) in enumerate(zip(texts, self.candidates, strict=True)):
            if value < 0.9 or (q.fp.visible and not c.visible):
                continue
            if (q.role and c.role == q.role) or c.tag == q.tag or not (q.role or q.tag):
                self.look_alikes.append(i)
                if value >= 0.99:
                    exact.append(i)
        return len(self.look_alikes), exact[0] if len(exact) == 1 else None

    def full_score(self, i: int) -> float:
        c = self.candidates[i]
        return (self.cheap[i] + sum(weight * fn(c) for _, weight, fn in self.lazy)) / self.total

    def identity_evidence(self, i: int) -> dict[str, float]:
        """The features computed for every candidate up front, plus the cheap structural ones (role,
        records): enough to rule a candidate out without scoring it fully."""
        out = {name: values[i] for name, values in self.values.items()}
        c = self.candidates[i]
        if "role" in self.weights:
            out["role"] = self.role(c)
        if "records" in self.weights:
            out["records"] = self.records(c)
        return out

    def evidence(self, i: int) -> dict[str, float]:
        out = {name: values[i] for name, values in self.values.items()}
        out.update((name, fn(self.candidates[i])) for name, _, fn in self.lazy)
        return out

    # -- cheap features -------------------------------------------------------------------------

    def test_id(self, c: ElementFingerprint) -> float:
        key = ("t", c.test_id)
        value = self._idents.get(key)
        if value is None:
            value = self._idents[key] = _ident_similarity(self.q.test_id, ident_tokens(self.q.test_id), c.test_id)
        return value

    def id(self, c: ElementFingerprint) -> float:
        key = ("i", c.id)
        value = self._idents.get(key)
        if value is None:
            q = self.q
            if q.id_random:
                value = 1.0 if c.id == q.id else 0.0
            else:
                value = 0.0 if is_random_id(c.id) else _ident_similarity(q.id, q.id_tokens, c.id)
            self._idents[key] = value
        return value

    def text(self, c: ElementFingerprint) -> float:
        key = (c.accessible_name, c.text, c.value)
        value = self._labels.get(key)
        if value is None:
            value = self._labels[key] = self._text(c)
        return value

    def _text(self, c: ElementFingerprint) -> float:
        """Accessible name against accessible name, visible text against visible text, averaged when
        both exist: "Like comment by Ann" and "Like comment by Bob" share their text, not their name."""
        q = self.q.fp
        pairs = []
        if q.accessible_name and c.accessible_name:
            pairs.append(text_similarity(q.accessible_name, c.accessible_name))
        if q.text and c.text:
            pairs.append(text_similarity(q.text, c.text))
        if pairs:
            return sum(pairs) / len(pairs)
        # A checkbox's or an option's value names it; a text field's value is what someone typed.
        value = c.value if c.type in _NAMING_VALUE_TYPES or c.tag == "option" else ""
        cand = [t for t in (c.accessible_name, c.text, value) if t]
        return max((text_similarity(a, b) for a in self.q.labels for b in cand), default=0.0)

    def attributes(self, c: ElementFingerprint) -> float:
        key = (c.name, c.type, c.placeholder, c.aria_label, c.alt, c.title, c.value, *c.attributes.items())
        value = self._attrs.get(key)
        if value is None:
            value = self._attrs[key] = self._attributes(c)
        return value

    def _attributes(self, c: ElementFingerprint) -> float:
        cand = attr_map(c)
        total = 0.0
        got = 0.0
        for key, value in self.q.attrs.items():
            weight = ATTR_WEIGHT.get(key, 0.5)
            total += weight
            other = cand.get(key)
            if other is None:
                continue
            if other == value:
                got += weight
            elif len(value) < 80:
                got += weight * 0.2 * (1.0 + text_similarity(value, other))
            else:
                got += weight * 0.2
        # Attributes the candidate has and the stored element had not are mild evidence against.
        extra = 0.25 * sum(1 for key in cand if key not in self.q.attrs and key != "type")
        return got / (total + extra) if total else 0.0

    def href(self, c: ElementFingerprint) -> float:
        q = self.q
        if not c.href or q.href is None:
            return 0.0
        key = ("h", c.href)
        value = self._idents.get(key)
        if value is None:
            path, words = href_key(c.href)
            if path == q.href[0]:
                value = 1.0
            elif other_record(q.href[0], path):
                value = 0.1  # same route, another record: /users/3 is not /users/7
            else:
                value = 0.8 * token_similarity(q.href[1], words)
            self._idents[key] = value
        return value

    def tag(self, c: ElementFingerprint) -> float:
        return tag_similarity(self.q.tag, c.tag)

    def role(self, c: ElementFingerprint) -> float:
        return role_similarity(self.q.role, c.role)

    def position(self, c: ElementFingerprint) -> float:
        return _position_similarity(self.q.index_path, c.index_path)

    def bbox(self, c: ElementFingerprint) -> float:
        q = self.q
        box = c.bbox
        if q.center is None or q.size is None or not box or len(box) != 4 or box[2] <= 0 or box[3] <= 0:
            return 0.0
        dx = box[0] + box[2] / 2 - q.center[0]
        dy = box[1] + box[3] / 2 - q.center[1]
        near = 1.0 / (1.0 + (dx * dx + dy * dy) / 22500.0)
        w0, h0 = q.size
        size = (min(w0, box[2]) / max(w0, box[2])) * (min(h0, box[3]) / max(h0, box[3]))
        return 0.7 * near + 0.3 * size

    def visible(self, c: ElementFingerprint) -> float:
        return 1.0 if c.visible == self.q.fp.visible else 0.0

    def frame(self, c: ElementFingerprint) -> float:
        return 1.0 if c.frame == self.q.fp.frame else 0.0

    # -- structure and surroundings ------------------------------------------------------------

    def classes(self, c: ElementFingerprint) -> float:
        key = tuple(c.classes)
        value = self._classes.get(key)
        if value is None:
            q = self.q
            cand = stable_classes(c.classes)
            if not cand:
                value = 0.0
            else:
                exact = len(q.classes & cand) / len(q.classes | cand)
                cand_tokens = class_tokens(cand)
                union = q.class_tokens | cand_tokens
                tokens = len(q.class_tokens & cand_tokens) / len(union) if union else 0.0
                value = max(exact, 0.8 * tokens)
            self._classes[key] = value
        return value

    def ancestors(self, c: ElementFingerprint) -> float:
        key = tuple(c.ancestors)
        value = self._ancestors.get(key)
        if value is None:
            q = self.q
            if not key:
                value = 0.0
            else:
                tags = [ancestor_tag(a) for a in key]
                longest = max(len(q.anc_tags), len(tags))
                exact = len(q.anc_set.intersection(key)) / longest
                value = 0.5 * lcs_length(q.anc_tags, tags) / longest + 0.5 * exact
            self._ancestors[key] = value
        return value

    def records(self, c: ElementFingerprint) -> float:
        """Share of the stored element's ancestor ids that the candidate's ancestors carry too."""
        key = tuple(c.ancestors)
        value = self._records.get(key)
        if value is None:
            value = self._records[key] = len(self.q.record_ids & ancestor_ids(key)) / len(self.q.record_ids)
        return value

    def scope(self, c: ElementFingerprint) -> float:
        """Share of the words of the selector's enclosing parts (``#product-9 >> ...``) found in the
        ids and classes of the candidate's ancestors."""
        key = tuple(c.ancestors)
        value = self._scopes.get(key)
        if value is None:
            found: set[str] = set()
            for summary in key:
                for part in re.split(r"[#.]", summary)[1:]:
                    found.update(ident_tokens(part))
            value = self._scopes[key] = len(self.q.scope_words & found) / len(self.q.scope_words)
        return value

    def actionable(self, c: ElementFingerprint) -> float:
        return 1.0 if c.role in ACTIONABLE_ROLES or c.tag in ACTIONABLE_TAGS else 0.0

    def selector(self, c: ElementFingerprint) -> float:
        bag = _candidate_words(c)
        total = 0.0
        got = 0.0
        for word, weight in self.q.words:
            total += weight
            if word in bag:
                got += weight
            elif len(word) >= 4 and any(tokens_close(word, other) for other in bag):
                got += 0.7 * weight
        return got / total if total else 0.0
