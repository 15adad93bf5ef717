"""Re-find an element after a page changed: rank candidates against a stored fingerprint.

Pure Python, no browser: the inputs are :class:`~healing_mcp.components.browser.fingerprint.ElementFingerprint`
records, wherever they were captured (``capture.py`` here, or any other tool that fills the same fields).

Entry point
-----------
``match_element(stored, candidates, *, failed_selector=None, threshold=DEFAULT_THRESHOLD,
min_margin=DEFAULT_MIN_MARGIN) -> MatchResult``

- ``stored``: the fingerprint recorded when the action last succeeded, or ``None`` when there was no
  reference run. Then a partial fingerprint is derived from ``failed_selector`` (see
  :func:`parse_selector`: CSS, XPath, Playwright ``text=`` / ``role=`` / ``internal:*`` engines, ``>>``
  chains) and matched on what the selector encodes; ``#login-btn`` contributes the words "login" and
  "button", ``text=Sign in`` the text, ``tr:has-text("Ann") >> text=Edit`` the text and the row's text.
- ``candidates``: fingerprints of every plausible element of the current page.
- ``failed_selector``: the selector that stopped working; with ``stored`` it is extra (weak) evidence.
- Returns :class:`MatchResult`: ``healed``, ``index`` into ``candidates`` (None unless healed),
  calibrated ``confidence``, a plain-words ``reason``, the refusing ``rule``, the ``margin`` over the
  runner-up, the top few ``ranked`` candidates with their per-feature evidence, and ``set_aside``: the
  candidates that outscored the chosen one but cannot be the target, each with its ``ruled_out`` reason.

Fingerprint fields used
-----------------------
All optional except ``tag``; a feature takes part only when the stored side has its data (a stored
element without text says nothing about text), so the score is ``sum(w * s) / sum(w)`` over the
features that apply, each similarity ``s`` in [0, 1]:

==============  ======  =======================================================================
feature         weight  fingerprint fields and similarity
==============  ======  =======================================================================
test_id         4.0     ``test_id``: equal 1; token similarity x 0.7 (renamed test ids)
id              2.5     ``id`` when it looks hand-written, 0.6 when generated (:func:`is_random_id`):
                        equal 1; token similarity x 0.7
text            3.0     ``accessible_name`` against ``accessible_name``, ``text`` against ``text``
                        (averaged): normalised equality 1, else fuzzy token similarity x 0.95
                        (UI synonyms, "log in" = "login", one-edit typos in words of 5+ letters,
                        plurals); the ``value`` of checkboxes, radios, buttons and options counts
                        as a label, a text field's typed value does not
unique_label    1.5     only when exactly one candidate of the stored kind carries the stored label
neighbors       2.0     ``neighbor_texts``: 0.6 x IDF^2-weighted share of the stored words found
                        around the candidate (IDF over the candidates: words around every row weigh
                        nothing, a person's name a lot) + 0.4 x IDF^2-weighted share of whole texts
                        found verbatim (a row's own text says which row, a heading above every row
                        does not). x (1 + ln k), at most x3, when k >= 2 candidates carry the
                        stored label
attributes      1.2     ``name``, ``type``, ``placeholder``, ``aria_label``, ``alt``, ``title``, ``value``,
                        ``attributes``: per attribute, same value 1, changed value 0.2-0.4
href            1.2     ``href`` without host: equal 1; same route with other numbers 0.1 (another
                        record); else path words x 0.8. x (1 + ln k), at most x3, among k >= 2
                        look-alikes, like the neighbours: which record a link opens tells them apart
classes         1.2     ``classes`` minus state and generated classes: Jaccard, or class-word
                        Jaccard x 0.8 (``btn-primary`` vs ``btn__primary``)
records         1.0     hand-written ids in ``ancestors`` (``li#comment-104``) the candidate also has
tag, role       1.0     ``tag`` (related tags 0.4-0.7), ``role`` (related roles 0.6)
ancestors       1.0     ``ancestors``: LCS of ancestor tags and exact ancestor overlap
position        1.0     ``index_path`` (so ``xpath``): shared prefix, same depth
bbox            0.7     ``bbox``: centre distance (1 / (1 + (d / 150 px)^2)) and size ratio
visible, frame  0.5     ``visible`` agrees; ``frame`` path equal
selector        0.8     words of ``failed_selector`` found among the candidate's words (3.0 without
                        a stored fingerprint)
scope           1.5     without a stored fingerprint: words of the selector's enclosing parts
                        (``#product-9 >> ...``) in the candidate's ancestors' ids and classes
actionable      0.3     without a stored fingerprint and without tag or role in the selector:
                        links, buttons and form controls are preferred
==============  ======  =======================================================================

The weights were set by reasoning (what survives a redesign, what tells look-alikes apart) and then
adjusted on the development sets of ``benchmarks/browser_healing``; each of its held-out sets was
generated after the matcher it first measured had been frozen.

Decision: no silent wrong heals
-------------------------------
With a stored fingerprint, candidates that cannot be the target whatever the others are, because
their own evidence contradicts it, are set aside: they are neither the answer nor a rival (unless a
test id or hand-written id that no other candidate shares vouches for them). ``set_aside`` lists those
that outscored the chosen one, each with its ``ruled_out`` reason:

- region: the target's region (its nearest ancestor with a hand-written id or a stable class:
  ``ol.breadcrumb``, ``li#comment-104``) is still on the page, the candidate is outside it and outside
  any renamed copy of it (``div.field`` -> ``div.field-wrap``), and it is not the stored element word
  for word (same tag, role, label, stable classes, attributes and link target): the main menu's "Home"
  once the breadcrumb's is gone. Link targets and field names do not vouch here, since pages repeat
  them across regions;
- another record: it links to the same route with another number (``/users/7``, not ``/users/3``);
- container: the target's record (an ancestor with a hand-written id, ``article#product-11``) is still
  on the page and the candidate is not in it, unless it is the stored element word for word and the
  only element of its kind with that label (a product title moved into another card);
- kind: it shares neither tag nor role with the stored element (the ``<label>`` that still carries a
  field's former name), unless an identity attribute vouches for it.

The best remaining candidate is accepted only if all of these hold, else ``healed`` is False, ``index``
None, and ``rule`` / ``reason`` say why:

1. ``threshold``: its score reaches the threshold (default 0.5);
2. ``ambiguous``: it leads the runner-up by ``min_margin`` (default 0.05). Elements nested in or
   around the best one with the same label (the ``<span>`` inside a ``<button>``) are not rivals;
3. ``unconfirmed`` (unless a test id, hand-written id, link target or field name that no other
   candidate shares vouches for it):

   - several candidates carry the stored label (those set aside do not count: they are told apart
     already) and the best one's surroundings match less than ``MIN_CONTEXT``: picking one would be a
     guess by position;
   - with a stored fingerprint, its label changed (text < 0.9) and its surroundings do not confirm it
     word for word (the less the label agrees, the more is needed), or it was one of the target's
     neighbours;
   - its label mostly changed (text < 0.5) and so did its tag;
4. ``selector`` (without a stored fingerprint): the selector's tag, role or label kind fits the
   candidate, it leads by ``SELECTOR_MIN_MARGIN``, and the selector clearly names it (its text, test id
   or id nearly equal; an attribute it names nearly equal, identifiers such as ``name`` with every word
   kept; or all the selector's words on the candidate and none of the candidate's own identifiers
   unexplained);
5. ``hidden`` / ``disabled``: it is visible and enabled (unless the stored element itself was not).

Confidence
----------
``confidence = 1 / (1 + exp(-(A * score + B * margin + C + D * unconfirmed + E * selector_only)))``:
the probability that the top candidate is the right element, increasing in the score and the margin,
much lower when a consistency check failed (``unconfirmed``, and without a stored fingerprint also the
``selector`` check, so that such a refusal does not read like the lead of a clear match), and shifted
by ``E`` when there was no stored fingerprint. A to E are a logistic regression fitted on every run of
the matcher on the development sets, with and without a stored fingerprint (``python -m
benchmarks.browser_healing --calibrate``), and frozen in ``decision.py``; the benchmark prints
reliability tables for the held-out sets.

Speed
-----
Identity features (test id, id, text, tag, href, neighbours) are computed for every candidate through
per-call memo tables (pages repeat values a lot); the others only while a candidate's optimistic bound
can still reach the top ranks. Setting aside needs identity features only, so a candidate set aside is
never scored fully unless it could outscore the best one. The ranking is exactly what scoring every
remaining candidate fully would give.
"""

from __future__ import annotations

from healing_mcp.components.browser.matching.decision import (
    CALIBRATION_A,
    CALIBRATION_B,
    CALIBRATION_C,
    CALIBRATION_D,
    CALIBRATION_E,
    MatchResult,
    ScoredCandidate,
    confidence_of,
    match_element,
)
from healing_mcp.components.browser.matching.query import (
    DEFAULT_MIN_MARGIN,
    DEFAULT_THRESHOLD,
    MIN_CONTEXT,
    MIN_CONTEXT_RELABELLED,
    SELECTOR_MIN_MARGIN,
    TOP_K,
)
from healing_mcp.components.browser.matching.ranking import score_candidates
from healing_mcp.components.browser.matching.selector_hints import SelectorHints, parse_selector
from healing_mcp.components.browser.matching.text import (
    ident_tokens,
    is_random_id,
    normalize_text,
    text_similarity,
    text_tokens,
    token_similarity,
)

__all__ = [
    "CALIBRATION_A",
    "CALIBRATION_B",
    "CALIBRATION_C",
    "CALIBRATION_D",
    "CALIBRATION_E",
    "DEFAULT_MIN_MARGIN",
    "DEFAULT_THRESHOLD",
    "MIN_CONTEXT",
    "MIN_CONTEXT_RELABELLED",
    "SELECTOR_MIN_MARGIN",
    "TOP_K",
    "MatchResult",
    "ScoredCandidate",
    "SelectorHints",
    "confidence_of",
    "ident_tokens",
    "is_random_id",
    "match_element",
    "normalize_text",
    "parse_selector",
    "score_candidates",
    "text_similarity",
    "text_tokens",
    "token_similarity",
]
