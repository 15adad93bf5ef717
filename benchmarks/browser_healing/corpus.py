"""The benchmark corpus: page templates x targets x change kinds, generated deterministically.

A case is one target element on version 1 of a page, one realistic change that produces version 2,
and the selector an agent used on version 1 (picked in the browser among :func:`agent_selectors`: the
first that selects the target alone). Ground truth is the target's benchmark key; when the change
deletes the target there is no right element and the right behaviour is to refuse.

Sets are generated from the same templates with different seeds (so different page contents, targets
and changes). The development sets (``DEVELOPMENT``: ``dev`` to ``dev7``) are what the matcher is
developed on (weights, decision rules, the fit of the confidence calibration); each was added when the
previous ones had been studied. The held-out sets (``HELD_OUT``) are each generated, with a seed
chosen beforehand, once the matcher is frozen, and reported as they come out; a held-out set whose
cases were studied afterwards is kept and reported, labelled as such, but no longer counts as unseen.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
from dataclasses import asdict, dataclass, field

from benchmarks.browser_healing import mutations
from benchmarks.browser_healing.dom import Node, ancestors, assign_keys, count_elements, find, frames_of, render
from benchmarks.browser_healing.pages import PAGES

SEEDS = {"dev": 20261125, "dev2": 9053, "dev3": 4417, "holdout": 61, "dev4": 7321, "dev5": 118, "dev6": 3306,
         "dev7": 80417, "holdout2": 2718}  # fmt: skip
DEVELOPMENT = ("dev", "dev2", "dev3", "dev4", "dev5", "dev6", "dev7")
# Held-out sets, newest first, with how they were used.
HELD_OUT = {
    "holdout2": "New held-out set, generated after the matcher was frozen and reported as it came out",
    "holdout": "Old held-out set, generated after the first matcher was frozen; studied before this round of tuning",
}
CORPUS_VERSION = "1"
TARGETS_PER_PAGE = {"admin": 12}
DEFAULT_TARGETS = 9
CASES_PER_TARGET = 2
ELIGIBLE_TAGS = frozenset({"a", "button", "input", "select", "textarea"})
KINDS = list(mutations.MUTATIONS)


@dataclass
class PageVersion:
    """Rendered HTML of one page version: the main document and its iframe documents by path."""

    documents: dict[str, str]  # relative path ("index.html", "frame0.html") -> html
    elements: int


@dataclass
class Case:
    case_id: str
    page: str
    kind: str
    change: str
    target_key: str
    target_deleted: bool
    frame_prefix: str  # selector prefix to reach the target's iframe ("" in the main document)
    selector_options: list[str]
    v2: PageVersion
    split: str


@dataclass
class Corpus:
    v1: dict[str, PageVersion] = field(default_factory=dict)
    cases: list[Case] = field(default_factory=list)

    def digest(self) -> str:
        return hashlib.sha256("".join(self.split(s).digest() for s in self.splits()).encode()).hexdigest()[:16]

    def splits(self) -> list[str]:
        return list(dict.fromkeys(c.split for c in self.cases))

    def split(self, name: str) -> Corpus:
        """The cases (and their v1 pages) of one set."""
        cases = [c for c in self.cases if c.split == name]
        pages = {c.page for c in cases}
        return _Split(name, {k: v for k, v in self.v1.items() if k in pages}, cases)


@dataclass
class _Split(Corpus):
    name: str = ""

    def __init__(self, name: str, v1: dict[str, PageVersion], cases: list[Case]) -> None:
        super().__init__(v1, cases)
        self.name = name

    def digest(self) -> str:
        payload = json.dumps(
            {"version": CORPUS_VERSION, "v1": {k: asdict(v) for k, v in self.v1.items()},
             "cases": [asdict(c) for c in self.cases]}, sort_keys=True
        )  # fmt: skip
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _render_version(root: Node) -> PageVersion:
    frames = frames_of(root)
    urls = {id(frame): f"frame{i}.html" for i, frame in enumerate(frames)}
    docs = {"index.html": "<!doctype html>" + render(root, urls)}
    for i, frame in enumerate(frames):
        docs[f"frame{i}.html"] = "<!doctype html>" + render(frame, urls)
    return PageVersion(docs, count_elements(root))


def eligible(root: Node, include_chrome: bool) -> list[Node]:
    """Visible elements worth targeting; site header and footer only on pages that are about them."""
    chrome: set[int] = set()
    for node in root.walk():
        hidden = "hidden" in node.attrs.get("class", "").split()  # an agent cannot have used those
        if hidden or (not include_chrome and node.attrs.get("class") in ("site-header", "site-footer")):
            chrome.update(id(sub) for sub in node.walk())
    return [
        n
        for n in root.walk()
        if id(n) not in chrome and (n.target or (n.tag in ELIGIBLE_TAGS and n.attrs.get("type") != "hidden"))
    ]


def _q(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _frame_of(root: Node, node: Node) -> Node | None:
    for iframe in (n for n in root.walk() if n.frame is not None):
        assert iframe.frame is not None
        if any(sub is node for sub in iframe.frame.walk()):
            return iframe
    return None


def _label_text(root: Node, node: Node) -> str:
    element_id = node.attrs.get("id")
    for other in root.walk():
        if other.tag == "label" and element_id and other.attrs.get("for") == element_id:
            return other.own_text()
    return ""


def agent_selectors(root: Node, node: Node, rng: random.Random) -> list[str]:
    """Selectors an automation author (or an agent) plausibly wrote for ``node``, shuffled."""
    options: list[str] = []
    tag = node.tag
    a = node.attrs
    text = node.text()
    if a.get("id"):
        options.append(f"#{a['id']}")
    for attr in ("data-testid", "data-qa"):
        if a.get(attr):
            options.append(f"[{attr}={_q(a[attr])}]")
    if a.get("name"):
        options.append(f"{tag}[name={_q(a['name'])}]")
    if text and len(text) <= 40:
        options += [f"text={text}", f"text={_q(text)}", f"{tag}:has-text({_q(text)})"]
        if node.own_text() == text and "'" not in text:
            options.append(f"//{tag}[text()='{text}']")
    role = {"button": "button", "a": "link", "select": "combobox", "textarea": "textbox"}.get(tag)
    if tag == "input":
        role = {"checkbox": "checkbox", "radio": "radio", "number": "spinbutton", "search": "searchbox"}.get(
            a.get("type", "text"), "textbox"
        )
    name = a.get("aria-label") or (text if tag in ("button", "a") else _label_text(root, node))
    if role and name:
        options.append(rng.choice([f"role={role}[name={_q(name)}]", f"internal:role={role}[name={_q(name)}i]"]))
    if a.get("aria-label"):
        options.append(f"[aria-label={_q(a['aria-label'])}]")
    if a.get("placeholder"):
        options.append(rng.choice([f"[placeholder={_q(a['placeholder'])}]",
                                   f"internal:attr=[placeholder={_q(a['placeholder'])}i]"]))  # fmt: skip
    label = _label_text(root, node)
    if label:
        options.append(f"internal:label={_q(label)}i")
    classes = a.get("class", "").split()
    if classes:
        options.append(f"{tag}." + ".".join(classes[:2]))
        parents = ancestors(root, node)
        if parents and parents[0].attrs.get("class"):
            options.append(f".{parents[0].attrs['class'].split()[0]} {tag}.{classes[-1]}")
    # Scoped by the repeating record around the target: the row's or card's text.
    for anc in ancestors(root, node)[:4]:
        if anc.tag in ("tr", "article", "li") and text:
            first = next((n.text() for n in anc.kids() if n.text() and n is not node), "")
            if anc.attrs.get("id"):
                options.append(f"#{anc.attrs['id']} >> text={text}")
            elif first and len(first) <= 40:
                options.append(f"{anc.tag}:has-text({_q(first)}) >> text={text}")
            break
    rng.shuffle(options)
    options.append("xpath=" + _xpath(root, node))  # what recorders fall back to
    frame = _frame_of(root, node)
    prefix = f"iframe[name={_q(frame.attrs['name'])}] >> internal:control=enter-frame >> " if frame else ""
    return [prefix + o for o in options]


def _xpath(root: Node, node: Node) -> str:
    frame = _frame_of(root, node)
    doc = frame.frame if frame is not None and frame.frame is not None else root
    chain = [node, *ancestors(doc, node)]
    parts = []
    for child, parent in itertools.pairwise(chain):
        same = [c for c in parent.kids() if c.tag == child.tag]
        parts.append(child.tag if len(same) == 1 else f"{child.tag}[{same.index(child) + 1}]")
    parts.append(chain[-1].tag)
    return "/" + "/".join(reversed(parts))


def build_corpus() -> Corpus:
    corpus = Corpus()
    for split, seed in SEEDS.items():
        _build_set(corpus, split, seed)
    return corpus


def _build_set(corpus: Corpus, split: str, seed: int) -> None:
    mutations.reset_keys()  # each set numbers its new elements alike, whatever sets come before it
    kind_counts = dict.fromkeys(KINDS, 0)
    for page_name, template in PAGES.items():
        root = template(_rng(seed, page_name, "template"))
        assign_keys(root, prefix=f"{page_name[:3]}-")
        page_id = f"{split}/{page_name}"
        corpus.v1[page_id] = _render_version(root)
        rng = _rng(seed, page_name, "targets")
        pool = eligible(root, include_chrome=page_name == "login")
        targets = rng.sample(pool, min(len(pool), TARGETS_PER_PAGE.get(page_name, DEFAULT_TARGETS)))
        for target in targets:
            # Balance change kinds: try the least used kinds first (ties in a seeded random order).
            order = sorted(KINDS, key=lambda k: (kind_counts[k], rng.random()))
            made = 0
            for kind in order:
                if made >= CASES_PER_TARGET:
                    break
                case_id = f"{page_id}-{target.key}-{kind}"
                v2 = root.clone()
                change = mutations.apply(kind, v2, target.key, lambda name, cid=case_id: _rng(seed, cid, name))
                if not change:
                    continue
                kind_counts[kind] += 1
                made += 1
                frame = _frame_of(root, target)
                prefix = f"iframe[name={_q(frame.attrs['name'])}] >> internal:control=enter-frame >> " if frame else ""
                corpus.cases.append(
                    Case(
                        case_id=case_id,
                        page=page_id,
                        kind=kind,
                        change=change,
                        target_key=target.key,
                        target_deleted=find(v2, target.key) is None,
                        frame_prefix=prefix,
                        selector_options=agent_selectors(root, target, _rng(seed, case_id, "selectors")),
                        v2=_render_version(v2),
                        split=split,
                    )
                )
