"""Realistic page changes between version 1 and version 2 of a page.

Each mutation takes the v2 tree (a copy of v1), the target's key and a seeded RNG, changes the tree in
place and returns a short description, or ``None`` if it does not apply to this target (the corpus
then picks another kind). Mutations never read or write benchmark keys except to give new elements
fresh ones (``n<counter>``) and to find the target.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from itertools import count

from benchmarks.browser_healing.dom import Node, ancestors, container_list, el, find, parent_of

_fresh = count()

REPEATING = ("li", "tr", "article", "div.card", "div.result", "div.kpi-card", "div.field", "div.setting-row")
SWAPS = {
    "a": "button",
    "button": "a",
    "div": "section",
    "section": "div",
    "span": "strong",
    "h1": "h2",
    "h2": "h3",
    "h3": "h4",
    "td": "th",
    "li": "div",
    "p": "div",
}
REWORDS: dict[str, list[str]] = {
    "Sign in": ["Log in", "Sign in to your account", "Continue"],
    "Email": ["Email address", "Your email"],
    "Work email": ["Email address", "Company email"],
    "Password": ["Your password", "Passcode"],
    "Add to cart": ["Add to bag", "Add to basket", "Buy now"],
    "Save changes": ["Save", "Update profile", "Save settings"],
    "Delete": ["Remove", "Delete permanently"],
    "Cancel": ["Go back", "Keep project"],
    "Create account": ["Sign up", "Get started", "Register"],
    "Next": ["Continue", "Next →"],
    "Next page": ["More results", "Next"],
    "Previous": ["Back", "Prev"],
    "Reply": ["Respond", "Answer"],
    "Like": ["Upvote", "Helpful"],
    "Edit": ["Modify", "Edit member"],
    "Apply": ["Redeem", "Apply code"],
    "Place order": ["Pay and place order", "Complete purchase"],
    "Post comment": ["Publish", "Send comment"],
    "Details": ["View details", "Open"],
    "Refresh status": ["Refresh", "Reload status"],
    "View run": ["Open run", "Run details"],
    "Load more": ["Show more", "More"],
    "Forgot password?": ["Reset password", "Trouble signing in?"],
    "Remove": ["Delete", "Remove item"],
    "Open": ["View", "Open project"],
    "Pay now": ["Pay", "Confirm payment"],
    "Invite member": ["Invite", "Add member"],
    "Add member": ["Invite member", "New member"],
    "Export CSV": ["Download CSV", "Export"],
    "Clear filters": ["Reset filters", "Clear all"],
    "Display name": ["Name", "Public name"],
    "Sign out": ["Log out", "Sign off"],
}
NEW_SIBLINGS: list[Callable[[], Node]] = [
    lambda: el("span", {"class": "badge badge-new"}, "New"),
    lambda: el("button", {"type": "button", "class": "btn btn-ghost"}, "Help"),
    lambda: el("a", {"href": "/whats-new", "class": "promo-link"}, "What's new"),
    lambda: el("div", {"class": "notice", "role": "status"}, "Changes are saved automatically."),
    lambda: el("button", {"type": "button", "class": "btn btn-secondary"}, "Preview"),
    lambda: el("p", {"class": "hint"}, "Tip: press / to search."),
    lambda: el("a", {"href": "/feedback", "class": "btn btn-link"}, "Give feedback"),
    lambda: el("img", {"src": "/img/spacer.svg", "alt": "", "class": "decor"}),
]
FILLER_TEXTS = ["Walnut desk lamp II", "Dana Okafor", "dana.okafor@example.com", "Mint green vase", "$42.00",
                "Borealis West", "Kai Lindqvist", "kai.lindqvist@example.com", "Archive", "$17.50",
                "Quarterly report", "Sora Ito"]  # fmt: skip


def reset_keys() -> None:
    """Restart numbering of new elements (keeps the corpus identical between runs in one process)."""
    global _fresh
    _fresh = count()


def _new_key() -> str:
    return f"n{next(_fresh)}"


def _keyed(node: Node) -> Node:
    """Give a new element (and its subtree) fresh keys; they are never the target."""
    for sub in node.walk():
        sub.key = _new_key()
        sub.target = False
    return node


def _text_holder(node: Node) -> Node | None:
    """The element that holds the target's visible text (itself or its only textual descendant)."""
    if node.own_text():
        return node
    for sub in node.walk():
        if sub is not node and sub.own_text():
            return sub
    return None


def _repeating_unit(root: Node, node: Node) -> Node | None:
    for anc in ancestors(root, node)[:4]:
        classes = anc.attrs.get("class", "").split()
        for spec in REPEATING:
            tag, _, cls = spec.partition(".")
            if anc.tag == tag and (not cls or cls in classes):
                return anc
    return None


def _siblings(root: Node, node: Node) -> tuple[Node, list[Node | str]] | None:
    parent = parent_of(root, node)
    if parent is None:
        return None
    return parent, container_list(parent, node)


def _index_in(items: list[Node | str], node: Node) -> int:
    return next(i for i, c in enumerate(items) if c is node)


# ------------------------------------------------------------------------------------- mutations


def id_rename(root: Node, target: Node, rng: random.Random) -> str | None:
    old = target.attrs.get("id")
    if not old:
        return None
    words = old.replace("_", "-").split("-")
    choice = rng.randrange(4)
    if choice == 0:
        new = "-".join(reversed(words)) if len(words) > 1 else f"{old}-v2"
    elif choice == 1:
        new = words[0] + "".join(w.capitalize() for w in words[1:]) + "Field"
    elif choice == 2:
        new = f"{old}-{rng.getrandbits(32):08x}"
    else:
        new = f":r{rng.randrange(36**2):x}:"
    # Labels pointing at the old id follow it, as a real refactor would do.
    for node in root.walk():
        if node.attrs.get("for") == old:
            node.attrs["for"] = new
    target.attrs["id"] = new
    return f"id {old!r} -> {new!r}"


def class_rename(root: Node, target: Node, rng: random.Random) -> str | None:
    classes = target.attrs.get("class", "").split()
    if not classes:
        return None
    style = rng.randrange(3)
    if style == 0:  # BEM rewrite
        new = [c.replace("-", "__", 1) if "-" in c else f"c-{c}" for c in classes]
    elif style == 1:  # CSS modules: hashed names
        new = [f"{c.split('-')[-1].capitalize()}_{c.replace('-', '')}__{rng.getrandbits(24):06x}" for c in classes]
    else:  # utility classes replace semantic ones
        new = ["inline-flex", "items-center", "px-4", "py-2", "rounded-md", rng.choice(["bg-blue-600", "text-sm"])]
    target.attrs["class"] = " ".join(new)
    # Redesigns usually rename the container classes too.
    parent = parent_of(root, target)
    if parent is not None and parent.attrs.get("class") and rng.random() < 0.5:
        parent.attrs["class"] = " ".join(
            f"{c}-{rng.choice(['wrap', 'v2', 'container'])}" for c in parent.attrs["class"].split()
        )
    return f"classes {classes} -> {new}"


def wrapper_insert(root: Node, target: Node, rng: random.Random) -> str | None:
    node = target
    if rng.random() < 0.4:
        parent = parent_of(root, target)
        if parent is not None and parent.tag not in ("body", "html", "tr", "tbody", "thead", "ul", "ol"):
            node = parent
    found = _siblings(root, node)
    if found is None:
        return None
    parent, items = found
    if parent.tag in ("tr", "tbody", "thead", "table", "select", "ul", "ol"):
        return None
    wrapper = _keyed(el("div", {"class": rng.choice(["wrapper", "field-control", "tooltip-trigger", "flex gap-2"])}))
    wrapper.children = [node]
    items[_index_in(items, node)] = wrapper
    return f"wrapped <{node.tag}> in div.{wrapper.attrs['class']}"


def sibling_insert(root: Node, target: Node, rng: random.Random) -> str | None:
    node = target if rng.random() < 0.6 else (parent_of(root, target) or target)
    found = _siblings(root, node)
    if found is None:
        return None
    parent, items = found
    if parent.tag in ("tr", "tbody", "thead", "table", "select", "html"):
        node = target
        found = _siblings(root, node)
        if found is None:
            return None
        parent, items = found
        if parent.tag in ("tr", "tbody", "thead", "table", "select"):
            return None
    n = rng.randint(1, 3)
    at = _index_in(items, node)
    added = []
    for _ in range(n):
        sibling = _keyed(rng.choice(NEW_SIBLINGS)())
        if parent.tag in ("ul", "ol"):
            sibling = _keyed(el("li", None, sibling))
        items.insert(at if rng.random() < 0.7 else at + 1 + len(added), sibling)
        added.append(sibling.tag)
    return f"inserted {added} next to <{node.tag}>"


def reorder(root: Node, target: Node, rng: random.Random) -> str | None:
    for node in [target, *ancestors(root, target)[:3]]:
        found = _siblings(root, node)
        if found is None:
            continue
        parent, items = found
        elements = [c for c in items if isinstance(c, Node)]
        if len(elements) < 3 or parent.tag in ("html", "head", "select", "thead"):
            continue
        order = list(elements)
        for _ in range(10):
            rng.shuffle(order)
            if order.index(node) != elements.index(node):
                break
        else:
            continue
        it = iter(order)
        items[:] = [next(it) if isinstance(c, Node) else c for c in items]
        return f"reordered children of <{parent.tag}>"
    return None


def text_edit(root: Node, target: Node, rng: random.Random) -> str | None:
    holder = _text_holder(target)
    if holder is None:
        if target.attrs.get("placeholder"):
            old = target.attrs["placeholder"]
            target.attrs["placeholder"] = rng.choice([f"e.g. {old}", old.rstrip(".") + "…", old.capitalize()])
            return f"placeholder {old!r} -> {target.attrs['placeholder']!r}"
        return None
    old = holder.own_text()
    edits = [
        lambda s: s + " →",
        lambda s: s.upper() if len(s) < 20 else s + ".",
        lambda s: s.lower().capitalize() if s != s.lower().capitalize() else s.title(),
        lambda s: s + " now" if len(s.split()) < 4 else s.replace(" ", "  ", 1) + "!",
        lambda s: s.rstrip("?.!") + ("" if s[-1:] in "?.!" else "."),
        lambda s: s.replace("and", "&") if "and" in s else "✓ " + s,
    ]
    new = rng.choice(edits)(old)
    if new == old:
        new = old + " (1)"
    holder.set_own_text(new)
    return f"text {old!r} -> {new!r}"


def attr_removal(root: Node, target: Node, rng: random.Random) -> str | None:
    removable = [a for a in ("data-testid", "data-qa", "name", "aria-label", "title", "id", "placeholder")
                 if a in target.attrs]  # fmt: skip
    if not removable:
        return None
    rng.shuffle(removable)
    gone = removable[: rng.randint(1, min(2, len(removable)))]
    for attr in gone:
        del target.attrs[attr]
    return f"removed {gone}"


def tag_swap(root: Node, target: Node, rng: random.Random) -> str | None:
    new = SWAPS.get(target.tag)
    if new is None:
        return None
    old = target.tag
    target.tag = new
    if new == "button":
        href = target.attrs.pop("href", "")
        target.attrs.pop("rel", None)
        target.attrs["type"] = "button"
        if href:
            target.attrs["data-href"] = href
    elif new == "a":
        target.attrs.pop("type", None)
        target.attrs["href"] = "#"
        target.attrs["role"] = "button"
    return f"<{old}> -> <{new}>"


def move(root: Node, target: Node, rng: random.Random) -> str | None:
    if target.tag in ("td", "th", "tr", "option"):
        return None  # outside their table or list the HTML parser drops them: that is a deletion
    found = _siblings(root, target)
    if found is None:
        return None
    _, items = found
    region = ancestors(root, target)[:4]
    if not region:
        return None
    scope = region[-1]
    inside = {id(n) for n in target.walk()}
    containers = [n for n in scope.walk()
                  if n.tag in ("div", "section", "header", "footer", "nav", "form", "aside", "main", "p", "li")
                  and id(n) not in inside and not any(c is target for c in n.children)]  # fmt: skip
    if not containers:
        return None
    dest = rng.choice(containers)
    del items[_index_in(items, target)]
    dest.children.insert(rng.randint(0, len(dest.children)), target)
    return f"moved <{target.tag}> into <{dest.tag} class={dest.attrs.get('class', '')!r}>"


def lookalike(root: Node, target: Node, rng: random.Random) -> str | None:
    unit = _repeating_unit(root, target)
    inside = {id(n) for n in target.walk()}
    if unit is not None and not any(n.own_text() for n in unit.walk() if id(n) not in inside):
        unit = None  # a record holding nothing but the target: a copy would be indistinguishable
    if unit is not None:
        found = _siblings(root, unit)
        if found is None:
            return None
        _, items = found
        clone = _keyed(unit.clone())
        # The clone is another record: its texts (names, prices, emails) differ, its action labels not.
        target_text = target.text()
        fillers = list(FILLER_TEXTS)
        rng.shuffle(fillers)
        for sub in clone.walk():
            own = sub.own_text()
            if own and own != target_text and sub.tag not in ("button", "th", "label"):
                sub.set_own_text(fillers.pop() if fillers else own + " (copy)")
            if "id" in sub.attrs:
                sub.attrs["id"] = sub.attrs["id"] + "-b"
            if sub.attrs.get("alt"):
                sub.attrs["alt"] = "Another " + sub.attrs["alt"].lower()
            for attr in ("aria-label",):
                if attr in sub.attrs:
                    sub.attrs[attr] = sub.attrs[attr] + " (2)"
        items.insert(_index_in(items, unit) + rng.choice([0, 1]), clone)
        return f"added a look-alike <{unit.tag}> next to the target's"
    # No repeating container: the same control appears again elsewhere (a sticky header, a toolbar).
    body = next((n for n in root.walk() if n.tag == "body"), None)
    if body is None:
        return None
    clone = _keyed(target.clone())
    clone.attrs.pop("id", None)
    bar = _keyed(el("div", {"class": "sticky-bar"}, el("span", None, "Quick actions"), clone))
    bar.children[1] = clone
    body.children.insert(0, bar)
    return f"added a look-alike <{target.tag}> in a new sticky bar"


def label_reword(root: Node, target: Node, rng: random.Random) -> str | None:
    # Form controls: reword the <label for=...> or the aria-label / placeholder.
    element_id = target.attrs.get("id")
    if target.tag in ("input", "select", "textarea"):
        for node in root.walk():
            if node.tag == "label" and element_id and node.attrs.get("for") == element_id:
                old = node.own_text()
                new = rng.choice(REWORDS.get(old, [f"Your {old.lower()}", f"{old} (required)"]))
                node.set_own_text(new)
                return f"label {old!r} -> {new!r}"
        for attr in ("aria-label", "placeholder"):
            if target.attrs.get(attr):
                old = target.attrs[attr]
                target.attrs[attr] = rng.choice(REWORDS.get(old, [f"{old} here", f"Enter {old.lower()}"]))
                return f"{attr} {old!r} -> {target.attrs[attr]!r}"
        return None
    holder = _text_holder(target)
    if target.attrs.get("aria-label") and (holder is None or rng.random() < 0.5):
        old = target.attrs["aria-label"]
        target.attrs["aria-label"] = rng.choice(REWORDS.get(old, [f"{old} now", old.split()[0]]))
        return f"aria-label {old!r} -> {target.attrs['aria-label']!r}"
    if holder is None:
        return None
    old = holder.own_text()
    options = REWORDS.get(old)
    if not options:
        return None
    new = rng.choice(options)
    holder.set_own_text(new)
    return f"text {old!r} -> {new!r}"


def delete(root: Node, target: Node, rng: random.Random) -> str | None:
    node = target
    unit = _repeating_unit(root, target)
    if unit is not None and rng.random() < 0.5:
        node = unit
    found = _siblings(root, node)
    if found is None:
        return None
    _, items = found
    del items[_index_in(items, node)]
    return f"deleted <{node.tag}>" + (" (its whole container)" if node is not target else "")


def redesign(root: Node, target: Node, rng: random.Random) -> str | None:
    """Two or three changes at once, as a real redesign ships them."""
    pool = [class_rename, wrapper_insert, sibling_insert, text_edit, attr_removal, id_rename, reorder, tag_swap]
    rng.shuffle(pool)
    done = []
    for mutation in pool:
        if len(done) >= rng.choice([2, 3]):
            break
        result = mutation(root, target, rng)
        if result:
            done.append(result)
    return "; ".join(done) if len(done) >= 2 else None


MUTATIONS: dict[str, Callable[[Node, Node, random.Random], str | None]] = {
    "id_rename": id_rename,
    "class_rename": class_rename,
    "wrapper_insert": wrapper_insert,
    "sibling_insert": sibling_insert,
    "reorder": reorder,
    "text_edit": text_edit,
    "attr_removal": attr_removal,
    "tag_swap": tag_swap,
    "move": move,
    "lookalike": lookalike,
    "label_reword": label_reword,
    "redesign": redesign,
    "delete": delete,
}


# Changes made in a template reach every instance of it: renaming the class of a row's "Edit" button
# renames it in every row. These kinds are applied to the target's counterparts in sibling records too.
TEMPLATE_KINDS = frozenset(
    {"class_rename", "tag_swap", "attr_removal", "wrapper_insert", "sibling_insert", "text_edit", "label_reword",
     "redesign"}
)  # fmt: skip


def counterparts(root: Node, target: Node) -> list[Node]:
    """The elements playing the target's part in the other records of its list (rows, cards, items)."""
    unit = _repeating_unit(root, target)
    if unit is None:
        return []
    found = _siblings(root, unit)
    if found is None:
        return []
    # Path from the record down to the target, as child positions.
    path: list[int] = []
    node = target
    while node is not unit:
        parent = parent_of(root, node)
        if parent is None:
            return []
        path.append(next(i for i, c in enumerate(parent.kids()) if c is node))
        node = parent
    path.reverse()
    out: list[Node] = []
    for other in found[1]:
        if not isinstance(other, Node) or other is unit or other.tag != unit.tag:
            continue
        if other.attrs.get("class") != unit.attrs.get("class"):
            continue
        current: Node | None = other
        for index in path:
            kids = list(current.kids()) if current is not None else []
            current = kids[index] if index < len(kids) else None
        if current is not None and current.tag == target.tag:
            out.append(current)
    return out


def apply(kind: str, root: Node, key: str, rng_for: Callable[[str], random.Random]) -> str | None:
    """Apply change ``kind`` to the element with ``key``; template kinds to its counterparts as well.

    ``rng_for(name)`` gives the RNG for one application; counterparts get the same stream as the target,
    so they receive the same change (the same new class names, the same new label).
    """
    target = find(root, key)
    if target is None:
        return None
    if kind in TEMPLATE_KINDS:
        label = target.text()
        for other in counterparts(root, target):
            if kind in ("text_edit", "label_reword") and other.text() != label:
                continue  # record data (a name, a price) is not template text
            MUTATIONS[kind](root, other, rng_for("target"))
    return MUTATIONS[kind](root, target, rng_for("target"))
