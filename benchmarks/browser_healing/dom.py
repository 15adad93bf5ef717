"""A tiny DOM for page templates: build, copy, mutate and render to HTML.

Every element carries a benchmark key, rendered as ``data-bench-key``. Keys travel with elements
through every mutation (moves, tag swaps, renames), so the ground truth of a case is simply "the
element whose key is the target's key". The capture step strips the attribute from every fingerprint
before any matcher sees it.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass, field

BENCH_ATTR = "data-bench-key"
VOID = frozenset({"input", "img", "br", "hr", "meta", "link", "source", "area", "col", "wbr"})


@dataclass(eq=False)  # identity comparison: two equal-looking elements are still two elements
class Node:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Node | str] = field(default_factory=list)
    key: str = ""
    target: bool = False  # eligible as a benchmark target
    shadow: list[Node | str] | None = None  # children of an open (declarative) shadow root
    frame: Node | None = None  # document of an <iframe>, rendered as a separate page

    def kids(self) -> Iterator[Node]:
        for child in (self.shadow or []) + self.children:
            if isinstance(child, Node):
                yield child

    def walk(self) -> Iterator[Node]:
        """Every element in document order, including shadow roots and iframe documents."""
        stack: list[Node] = [self]
        while stack:
            node = stack.pop()
            yield node
            kids = list(node.kids())
            stack.extend(reversed(kids))
            if node.frame is not None:
                stack.append(node.frame)

    def clone(self) -> Node:
        """Deep copy (keys included), much faster than ``copy.deepcopy`` for big pages."""
        return Node(
            self.tag,
            dict(self.attrs),
            [c if isinstance(c, str) else c.clone() for c in self.children],
            self.key,
            self.target,
            None if self.shadow is None else [c if isinstance(c, str) else c.clone() for c in self.shadow],
            None if self.frame is None else self.frame.clone(),
        )

    def text(self) -> str:
        parts: list[str] = []
        for child in (self.shadow or []) + self.children:
            parts.append(child if isinstance(child, str) else child.text())
        return " ".join(" ".join(parts).split())

    def own_text(self) -> str:
        return " ".join(" ".join(c for c in self.children if isinstance(c, str)).split())

    def set_own_text(self, text: str) -> None:
        kept = [c for c in self.children if isinstance(c, Node)]
        self.children = [text, *kept]


def el(tag: str, attrs: dict[str, str] | None = None, *children: Node | str, target: bool = False) -> Node:
    return Node(tag, dict(attrs or {}), list(children), target=target)


def t(tag: str, attrs: dict[str, str] | None = None, *children: Node | str) -> Node:
    """An element marked as a benchmark target."""
    return el(tag, attrs, *children, target=True)


def assign_keys(root: Node, prefix: str = "k") -> None:
    for i, node in enumerate(root.walk()):
        if not node.key:
            node.key = f"{prefix}{i}"


def find(root: Node, key: str) -> Node | None:
    return next((n for n in root.walk() if n.key == key), None)


def parent_map(root: Node) -> dict[int, Node]:
    """id(element) -> parent element, for the whole tree (iframe documents have no parent)."""
    out: dict[int, Node] = {}
    for node in root.walk():
        for child in node.kids():
            out[id(child)] = node
    return out


_PARENTS: dict[int, tuple[Node, dict[int, Node]]] = {}


def _is_child(parent: Node, node: Node) -> bool:
    return any(c is node for c in parent.children) or any(c is node for c in parent.shadow or [])


def parent_of(root: Node, node: Node) -> Node | None:
    """Parent of ``node`` under ``root``. Uses a per-root map, rebuilt when a mutation made it stale."""
    if node is root:
        return None
    cached = _PARENTS.get(id(root))
    if cached is not None and cached[0] is root:
        parent = cached[1].get(id(node))
        if parent is not None and _is_child(parent, node):
            return parent
        if parent is None and node.tag == "html":
            return None  # the document of an iframe: a root of its own
    parents = parent_map(root)
    _PARENTS.clear()  # one tree at a time is being mutated; keep memory flat
    _PARENTS[id(root)] = (root, parents)
    return parents.get(id(node))


def container_list(parent: Node, node: Node) -> list[Node | str]:
    """The list (light children or shadow children) of ``parent`` that holds ``node``."""
    if parent.shadow is not None and any(c is node for c in parent.shadow):
        return parent.shadow
    return parent.children


def ancestors(root: Node, node: Node) -> list[Node]:
    out: list[Node] = []
    current = parent_of(root, node)
    while current is not None:
        out.append(current)
        current = parent_of(root, current)
    return out


def count_elements(root: Node) -> int:
    return sum(1 for _ in root.walk())


def _attrs(node: Node) -> str:
    parts = [f' {BENCH_ATTR}="{node.key}"'] if node.key else []
    for name, value in node.attrs.items():
        parts.append(f" {name}" if value is None else f' {name}="{html.escape(value, quote=True)}"')
    return "".join(parts)


def render(node: Node, frame_url: dict[int, str] | None = None) -> str:
    """HTML of ``node``. ``frame_url`` maps id(iframe document) -> its URL for iframe ``src``."""
    if node.tag == "#doc":
        return "<!doctype html>" + "".join(render(c, frame_url) if isinstance(c, Node) else c for c in node.children)
    attrs = _attrs(node)
    if node.frame is not None and frame_url is not None:
        attrs += f' src="{frame_url[id(node.frame)]}"'
    if node.tag in VOID:
        return f"<{node.tag}{attrs}>"
    inner = "".join(html.escape(c) if isinstance(c, str) else render(c, frame_url) for c in node.children)
    if node.shadow is not None:
        shadow = "".join(html.escape(c) if isinstance(c, str) else render(c, frame_url) for c in node.shadow)
        inner = f'<template shadowrootmode="open">{shadow}</template>' + inner
    return f"<{node.tag}{attrs}>{inner}</{node.tag}>"


def frames_of(root: Node) -> list[Node]:
    """iframe documents, outermost first."""
    return [n.frame for n in root.walk() if n.frame is not None]
