"""Page templates: realistic pages built from the tiny DOM (deterministic for a given seed).

Each template returns the ``<html>`` root of version 1 of a page. Elements made with ``t(...)`` are
eligible targets; links, buttons and form controls are eligible too (see ``corpus.eligible``).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from benchmarks.browser_healing.dom import Node, el, t

FIRST = ["Alice", "Bruno", "Chen", "Dana", "Emeka", "Farah", "Goran", "Hana", "Ivan", "Jade", "Kofi",
         "Lena", "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Uma", "Victor",
         "Wen", "Xavier", "Yara", "Zoe"]  # fmt: skip
LAST = ["Smith", "Okafor", "Garcia", "Novak", "Tanaka", "Schmidt", "Rossi", "Kowalski", "Haddad",
        "Silva", "Larsen", "Murphy", "Nguyen", "Petrov", "Costa"]  # fmt: skip
PRODUCTS = ["Blue ceramic mug", "Walnut desk lamp", "Linen throw pillow", "Steel water bottle",
            "Oak cutting board", "Wool beanie", "Canvas tote bag", "Glass teapot", "Bamboo toothbrush set",
            "Leather notebook", "Copper kettle", "Cotton bath towel", "Ceramic plant pot", "Cast iron skillet",
            "Felt slippers", "Marble coaster set", "Rattan basket", "Porcelain bowl", "Linen apron",
            "Brass candle holder"]  # fmt: skip
TOPICS = ["Release notes", "Pricing", "Security", "Integrations", "API reference", "Status", "Blog",
          "Careers", "Press", "Partners", "Community", "Support"]  # fmt: skip


def _doc(title: str, *body: Node) -> Node:
    head = el("head", None, el("title", None, title), el("meta", {"charset": "utf-8"}),
              el("style", None, "body{font-family:sans-serif;margin:16px} .hidden{display:none}"
                 " .card{display:inline-block;width:220px;margin:8px;vertical-align:top}"
                 " .modal-backdrop{position:fixed;inset:0;background:rgba(0,0,0,.3)}"
                 " dialog[open]{position:fixed;top:80px}"))  # fmt: skip
    return el("html", {"lang": "en"}, head, el("body", None, *body))


def _site_header(rng: random.Random, active: str = "") -> Node:
    items = ["Home", "Products", "Pricing", "Docs", "Blog"]
    nav_items = [
        el("li", {"class": "nav-item" + (" active" if name == active else "")},
           t("a", {"href": f"/{name.lower()}", "class": "nav-link"}, name))
        for name in items
    ]  # fmt: skip
    return el(
        "header",
        {"class": "site-header"},
        t("a", {"href": "/", "class": "logo", "aria-label": "Acme home"},
          t("img", {"src": "/logo.svg", "alt": "Acme logo", "width": "80", "height": "24"})),
        el("nav", {"class": "main-nav", "aria-label": "Main"}, el("ul", {"class": "nav-list"}, *nav_items)),
        el("div", {"class": "header-actions"},
           t("button", {"class": "icon-btn", "aria-label": "Notifications", "type": "button"}, "🔔"),
           t("a", {"href": "/account", "class": "account-link"}, "My account")),
    )  # fmt: skip


def _site_footer() -> Node:
    cols = []
    for group, links in (("Company", ["About", "Careers", "Press"]), ("Help", ["Support", "Contact", "Status"])):
        cols.append(
            el(
                "div",
                {"class": "footer-col"},
                el("h4", None, group),
                el("ul", None, *[el("li", None, t("a", {"href": f"/{x.lower()}"}, x)) for x in links]),
            )
        )
    return el("footer", {"class": "site-footer"}, *cols, el("p", {"class": "copyright"}, "© 2026 Acme Inc."))


# ------------------------------------------------------------------------------------------ pages


def login_page(rng: random.Random) -> Node:
    form = el(
        "form",
        {"id": "login-form", "class": "auth-form", "action": "/session", "method": "post"},
        t("h1", {"class": "auth-title"}, "Sign in to Acme"),
        el("div", {"class": "form-group"},
           el("label", {"for": "email"}, "Email"),
           t("input", {"id": "email", "name": "email", "type": "email", "class": "form-control",
                       "placeholder": "you@example.com", "autocomplete": "username"})),
        el("div", {"class": "form-group"},
           el("label", {"for": "password"}, "Password"),
           t("input", {"id": "password", "name": "password", "type": "password", "class": "form-control"})),
        el("div", {"class": "form-row"},
           el("label", {"class": "checkbox"}, t("input", {"type": "checkbox", "name": "remember"}), " Remember me"),
           t("a", {"href": "/forgot", "class": "forgot-link"}, "Forgot password?")),
        t("button", {"id": "login-btn", "type": "submit", "class": "btn btn-primary",
                     "data-testid": "login-submit"}, "Sign in"),
        el("div", {"class": "divider"}, el("span", None, "or")),
        t("button", {"type": "button", "class": "btn btn-social btn-google"}, "Sign in with Google"),
        t("button", {"type": "button", "class": "btn btn-social btn-github"}, "Sign in with GitHub"),
        el("p", {"class": "signup-hint"}, "New here? ", t("a", {"href": "/signup"}, "Create an account")),
    )  # fmt: skip
    return _doc("Sign in", _site_header(rng), el("main", {"class": "auth-page"}, form), _site_footer())


def signup_page(rng: random.Random) -> Node:
    def field(label: str, name: str, kind: str = "text", hint: str = "") -> Node:
        parts: list[Node | str] = [
            el("label", {"for": f"su-{name}"}, label),
            t("input", {"id": f"su-{name}", "name": name, "type": kind, "class": "input"}),
        ]
        if hint:
            parts.append(el("small", {"class": "hint"}, hint))
        return el("div", {"class": "field"}, *parts)

    countries = ["Germany", "France", "Kenya", "Japan", "Brazil", "Canada"]
    form = el(
        "form",
        {"id": "signup", "class": "signup-form"},
        t("h2", None, "Create your account"),
        el("fieldset", None, el("legend", None, "About you"),
           field("First name", "first_name"), field("Last name", "last_name"),
           field("Work email", "email", "email", "We never share your email."),
           el("div", {"class": "field"}, el("label", {"for": "su-country"}, "Country"),
              t("select", {"id": "su-country", "name": "country"},
                *[el("option", {"value": c[:2].upper()}, c) for c in countries]))),
        el("fieldset", None, el("legend", None, "Security"),
           field("Password", "password", "password", "At least 12 characters."),
           field("Confirm password", "password_confirm", "password")),
        el("div", {"class": "field checkbox"},
           t("input", {"type": "checkbox", "id": "su-terms", "name": "terms"}),
           el("label", {"for": "su-terms"}, "I agree to the ", t("a", {"href": "/terms"}, "Terms of Service"))),
        el("div", {"class": "field checkbox"},
           t("input", {"type": "checkbox", "id": "su-news", "name": "newsletter"}),
           el("label", {"for": "su-news"}, "Send me product updates")),
        t("button", {"type": "submit", "class": "btn btn-primary btn-block", "data-qa": "signup-submit"},
          "Create account"),
        el("p", None, "Already have an account? ", t("a", {"href": "/login", "class": "link"}, "Sign in")),
    )  # fmt: skip
    return _doc("Sign up", _site_header(rng), el("main", None, form), _site_footer())


def _people(rng: random.Random, n: int) -> list[tuple[str, str, str, str]]:
    out = []
    used: set[str] = set()
    while len(out) < n:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        if (first, last) in used:
            continue
        used.add((first, last))
        email = f"{first.lower()}.{last.lower()}@example.com"
        out.append((f"{first} {last}", email, rng.choice(["Admin", "Editor", "Viewer"]),
                    rng.choice(["Active", "Invited", "Suspended"])))  # fmt: skip
    return out


def _user_row(i: int, person: tuple[str, str, str, str], compact: bool = False) -> Node:
    name, email, role, status = person
    cells = [
        el("td", None, t("input", {"type": "checkbox", "aria-label": f"Select {name}", "class": "row-select"})),
        el("td", None, t("a", {"href": f"/users/{i}", "class": "user-link"}, name)),
        t("td", {"class": "email"}, email),
        el("td", None, role),
        el("td", None, el("span", {"class": f"badge badge-{status.lower()}"}, status)),
        el("td", {"class": "actions"},
           t("button", {"class": "btn btn-sm btn-edit", "type": "button"}, "Edit"),
           t("button", {"class": "btn btn-sm btn-danger", "type": "button"}, "Delete"),
           *([] if compact else [t("button", {"class": "btn btn-sm btn-link", "type": "button",
                                              "title": "More actions"}, "⋯")])),
    ]  # fmt: skip
    return el("tr", {"class": "user-row"}, *cells)


def table_page(rng: random.Random) -> Node:
    people = _people(rng, 18)
    header = el("thead", None, el("tr", None, el("th", None, ""), *[el("th", {"scope": "col"}, h)
                for h in ("Name", "Email", "Role", "Status", "Actions")]))  # fmt: skip
    table = el("table", {"class": "table users-table"}, el("caption", None, "Team members"), header,
               el("tbody", None, *[_user_row(i, p) for i, p in enumerate(people)]))  # fmt: skip
    toolbar = el(
        "div",
        {"class": "toolbar"},
        t("input", {"type": "search", "name": "q", "placeholder": "Filter members", "class": "search-input"}),
        t("select", {"name": "role", "aria-label": "Role filter"}, el("option", None, "All roles"),
          el("option", None, "Admin"), el("option", None, "Editor")),
        t("button", {"class": "btn btn-primary", "id": "add-user", "type": "button"}, "Add member"),
        t("button", {"class": "btn", "type": "button"}, "Export CSV"),
    )  # fmt: skip
    pager = el("nav", {"class": "pagination", "aria-label": "Pagination"},
               t("a", {"href": "?page=1", "class": "page-prev"}, "Previous"),
               *[t("a", {"href": f"?page={n}", "class": "page-link"}, str(n)) for n in (1, 2, 3)],
               t("a", {"href": "?page=2", "class": "page-next"}, "Next"))  # fmt: skip
    return _doc("Team", _site_header(rng), el("main", None, t("h1", None, "Team members"), toolbar, table, pager))


def nav_page(rng: random.Random) -> Node:
    def menu(title: str, items: list[str], ident: str) -> Node:
        return el("li", {"class": "menu-item has-dropdown"},
                  t("button", {"class": "menu-toggle", "aria-expanded": "true", "aria-controls": ident}, title),
                  el("ul", {"class": "dropdown", "id": ident},
                     *[el("li", None, t("a", {"href": f"/{title.lower()}/{x.lower().replace(' ', '-')}",
                                              "class": "dropdown-link"}, x)) for x in items]))  # fmt: skip

    top = el("nav", {"class": "mega-nav", "aria-label": "Primary"},
             el("ul", {"class": "menu"},
                el("li", {"class": "menu-item"}, t("a", {"href": "/", "class": "menu-link"}, "Home")),
                menu("Products", ["Analytics", "Automation", "Billing", "Storage"], "menu-products"),
                menu("Resources", ["Guides", "API reference", "Webinars", "Community"], "menu-resources"),
                el("li", {"class": "menu-item"}, t("a", {"href": "/pricing", "class": "menu-link"}, "Pricing")),
                el("li", {"class": "menu-item"},
                   t("a", {"href": "/contact", "class": "menu-link"}, "Contact sales"))))  # fmt: skip
    # A hidden mobile copy of the same menu: a classic trap for matchers that ignore visibility.
    mobile = el("nav", {"class": "mobile-nav hidden", "aria-label": "Mobile"},
                el("ul", None, *[el("li", None, el("a", {"href": f"/{x.lower()}"}, x))
                                  for x in ("Home", "Products", "Resources", "Pricing")]))  # fmt: skip
    crumbs = el("ol", {"class": "breadcrumb"},
                el("li", None, t("a", {"href": "/"}, "Home")),
                el("li", None, t("a", {"href": "/docs"}, "Docs")),
                t("li", {"aria-current": "page"}, "Getting started"))  # fmt: skip
    side = el("aside", {"class": "sidebar"},
              *[el("section", {"class": "side-group"}, t("h3", None, group),
                   el("ul", None, *[el("li", None, t("a", {"href": f"/docs/{x.lower().replace(' ', '-')}"}, x))
                                     for x in items]))
                for group, items in (("Basics", ["Installation", "Quick start", "Configuration"]),
                                     ("Guides", ["Deploying", "Monitoring", "Scaling", "Backups"]),
                                     ("Reference", ["CLI", "REST API", "Webhooks"]))])  # fmt: skip
    content = el("article", {"class": "doc"}, t("h1", None, "Getting started"),
                 el("p", None, "Install the agent, connect a project and watch your first run."),
                 t("a", {"href": "/docs/installation", "class": "btn btn-primary"}, "Start installing"))  # fmt: skip
    return _doc("Docs", top, mobile, crumbs, el("div", {"class": "layout"}, side, content), _site_footer())


def _product_card(i: int, name: str, rng: random.Random) -> Node:
    price = f"${rng.randint(8, 120)}.{rng.choice(['00', '50', '99'])}"
    return el(
        "article",
        {"class": "card product-card", "id": f"product-{i}"},
        t("img", {"src": f"/img/p{i}.jpg", "alt": name, "width": "200", "height": "140", "class": "card-img"}),
        el("div", {"class": "card-body"},
           t("h3", {"class": "card-title"}, t("a", {"href": f"/p/{i}", "class": "product-link"}, name)),
           el("p", {"class": "price"}, price),
           el("div", {"class": "rating", "aria-label": f"Rated {rng.randint(3, 5)} out of 5"}, "★★★★"),
           el("div", {"class": "card-actions"},
              t("button", {"class": "btn btn-cart add-to-cart", "type": "button", "data-product": str(i)},
                "Add to cart"),
              t("button", {"class": "icon-btn wishlist", "type": "button", "aria-label": f"Save {name}"}, "♡"))),
    )  # fmt: skip


def products_page(rng: random.Random) -> Node:
    names = rng.sample(PRODUCTS, 12)
    filters = el("aside", {"class": "filters"}, t("h2", None, "Filters"),
                 *[el("label", {"class": "filter"}, t("input", {"type": "checkbox", "name": "cat", "value": c}),
                      f" {c}") for c in ("Kitchen", "Home", "Bath", "Outdoor")],
                 t("button", {"class": "btn btn-link", "type": "button"}, "Clear filters"))  # fmt: skip
    sort = el("div", {"class": "sort-bar"}, el("label", {"for": "sort"}, "Sort by"),
              t("select", {"id": "sort", "name": "sort"}, el("option", None, "Featured"),
                el("option", None, "Price: low to high"), el("option", None, "Newest")),
              el("span", {"class": "count"}, "12 products"))  # fmt: skip
    grid = el("div", {"class": "product-grid"}, *[_product_card(i, n, rng) for i, n in enumerate(names)])
    return _doc("Shop", _site_header(rng, "Products"),
                el("main", {"class": "shop"}, filters, el("section", {"class": "results"}, sort, grid)))  # fmt: skip


def modal_page(rng: random.Random) -> Node:
    page = el("main", None, t("h1", None, "Projects"),
              el("ul", {"class": "project-list"},
                 *[el("li", {"class": "project"}, el("span", {"class": "project-name"}, name),
                      t("button", {"class": "btn btn-sm", "type": "button"}, "Open"))
                   for name in ("Apollo", "Borealis", "Cygnus", "Draco")]),
              t("button", {"class": "btn btn-danger", "id": "delete-project", "type": "button"},
                "Delete project"))  # fmt: skip
    dialog = el(
        "div",
        {"class": "modal", "role": "dialog", "aria-modal": "true", "aria-labelledby": "modal-title"},
        el("div", {"class": "modal-header"},
           t("h2", {"id": "modal-title", "class": "modal-title"}, "Delete project Apollo?"),
           t("button", {"class": "close", "aria-label": "Close", "type": "button"}, "×")),
        el("div", {"class": "modal-body"},
           el("p", None, "This permanently deletes the project, its runs and its secrets."),
           el("label", {"for": "confirm-name"}, "Type the project name to confirm"),
           t("input", {"id": "confirm-name", "name": "confirm", "type": "text", "class": "form-control",
                       "placeholder": "Apollo"}),
           el("label", {"class": "checkbox"}, t("input", {"type": "checkbox", "name": "export"}),
              " Export data first")),
        el("div", {"class": "modal-footer"},
           t("button", {"class": "btn btn-secondary", "type": "button", "data-testid": "modal-cancel"}, "Cancel"),
           t("button", {"class": "btn btn-danger", "type": "button", "data-testid": "modal-confirm"}, "Delete")),
    )  # fmt: skip
    return _doc("Projects", _site_header(rng), page, el("div", {"class": "modal-backdrop"}), dialog)


def settings_page(rng: random.Random) -> Node:
    tabs = el("div", {"class": "tabs", "role": "tablist"},
              *[t("button", {"role": "tab", "class": "tab" + (" active" if i == 0 else ""),
                             "aria-selected": "true" if i == 0 else "false", "id": f"tab-{name.lower()}"}, name)
                for i, name in enumerate(("Profile", "Account", "Notifications", "Billing"))])  # fmt: skip

    def toggle(label: str, name: str, on: bool) -> Node:
        attrs = {"type": "checkbox", "role": "switch", "name": name, "class": "switch"}
        if on:
            attrs["checked"] = ""
        return el("div", {"class": "setting-row"}, el("label", {"for": f"set-{name}"}, label),
                  t("input", {**attrs, "id": f"set-{name}"}))  # fmt: skip

    profile = el(
        "section",
        {"class": "panel", "aria-labelledby": "tab-profile"},
        t("h2", None, "Public profile"),
        el("div", {"class": "field"}, el("label", {"for": "display-name"}, "Display name"),
           t("input", {"id": "display-name", "name": "display_name", "value": "Dana Novak", "class": "input"})),
        el("div", {"class": "field"}, el("label", {"for": "bio"}, "Bio"),
           t("textarea", {"id": "bio", "name": "bio", "rows": "3", "class": "input"}, "Runs the data team.")),
        el("div", {"class": "field"}, el("label", {"for": "tz"}, "Time zone"),
           t("select", {"id": "tz", "name": "timezone"}, el("option", None, "UTC"),
             el("option", None, "Europe/Berlin"), el("option", None, "America/New_York"))),
        t("h2", None, "Notifications"),
        toggle("Email me about new comments", "notify_comments", True),
        toggle("Email me weekly summaries", "notify_weekly", False),
        toggle("Push notifications", "notify_push", True),
        el("div", {"class": "actions"},
           t("button", {"class": "btn btn-primary", "type": "submit", "data-testid": "save-settings"}, "Save changes"),
           t("button", {"class": "btn", "type": "reset"}, "Discard")),
        el("div", {"class": "danger-zone"}, t("h3", None, "Danger zone"),
           el("p", None, "Deleting your account cannot be undone."),
           t("button", {"class": "btn btn-danger", "type": "button", "id": "delete-account"}, "Delete account")),
    )  # fmt: skip
    return _doc(
        "Settings", _site_header(rng), el("main", {"class": "settings"}, t("h1", None, "Settings"), tabs, profile)
    )


def article_page(rng: random.Random) -> Node:
    paragraphs = [el("p", None, f"Paragraph {i + 1}: " + " ".join(rng.sample(
        ["healing", "systems", "repair", "browsers", "agents", "selectors", "pages", "change", "often",
         "quietly", "between", "releases", "which", "breaks", "automation", "scripts", "every", "week"], 12)))
        for i in range(10)]  # fmt: skip
    figure = el("figure", None, t("img", {"src": "/img/chart.png", "alt": "Chart of weekly failures"}),
                el("figcaption", None, "Failures per week, before and after."))  # fmt: skip
    comments = []
    for i in range(12):
        author = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        comments.append(
            el("li", {"class": "comment", "id": f"comment-{100 + i}"},
               el("div", {"class": "comment-meta"}, t("a", {"href": f"/u/{i}", "class": "author"}, author),
                  el("time", {"datetime": "2026-11-0" + str(1 + i % 9)}, f"{i + 1} days ago")),
               el("p", {"class": "comment-body"}, rng.choice(["Great write-up!", "How does this handle iframes?",
                  "We saw the same problem.", "Thanks, this helped a lot.", "Any numbers on false positives?",
                  "Bookmarked."])),
               el("div", {"class": "comment-actions"},
                  t("button", {"class": "link-btn reply", "type": "button"}, "Reply"),
                  t("button", {"class": "link-btn like", "type": "button", "aria-label": f"Like comment by {author}"},
                    "Like")))
        )  # fmt: skip
    form = el("form", {"class": "comment-form"},
              el("label", {"for": "new-comment"}, "Add a comment"),
              t("textarea", {"id": "new-comment", "name": "comment", "placeholder": "Write something kind"}),
              t("button", {"type": "submit", "class": "btn btn-primary"}, "Post comment"))  # fmt: skip
    article = el("article", {"class": "post"}, t("h1", {"class": "post-title"}, "Why browser automations break"),
                 el("p", {"class": "byline"}, "By ", t("a", {"href": "/authors/tara", "rel": "author"}, "Tara Costa")),
                 *paragraphs[:4], figure, *paragraphs[4:],
                 t("a", {"href": "#comments", "class": "jump"}, "Jump to comments"))  # fmt: skip
    discussion = el("section", {"id": "comments", "class": "comments"}, t("h2", None, "12 comments"),
                    el("ol", {"class": "comment-list"}, *comments), form)  # fmt: skip
    return _doc("Blog", _site_header(rng, "Blog"), el("main", None, article, discussion), _site_footer())


def search_page(rng: random.Random) -> Node:
    results = []
    for i, topic in enumerate(rng.sample(TOPICS, 10)):
        slug = topic.lower().replace(" ", "-")
        results.append(
            el("div", {"class": "result"},
               t("h3", {"class": "result-title"},
                 t("a", {"href": f"https://docs.acme.test/{slug}"}, f"{topic} — Acme docs")),
               el("cite", {"class": "result-url"}, f"docs.acme.test › {slug}"),
               el("p", {"class": "snippet"}, f"Everything about {topic.lower()} in Acme: setup, limits and examples."),
               el("div", {"class": "result-links"}, t("a", {"href": f"/cache/{i}", "class": "cached"}, "Cached"),
                  t("a", {"href": f"/similar/{i}", "class": "similar"}, "Similar pages")))
        )  # fmt: skip
    box = el("form", {"class": "search-form", "role": "search", "action": "/search"},
             t("input", {"type": "search", "name": "q", "value": "acme docs", "aria-label": "Search",
                         "class": "search-box"}),
             t("button", {"type": "submit", "class": "search-btn", "aria-label": "Search"}, "🔍"))  # fmt: skip
    filters = el("div", {"class": "search-filters"},
                 *[t("a", {"href": f"?tab={x.lower()}", "class": "filter-tab"}, x)
                   for x in ("All", "Images", "News", "Videos")])  # fmt: skip
    hint = el("p", {"class": "spelling"}, "Did you mean: ", t("a", {"href": "?q=acme+doc"}, "acme doc"))
    pager = el("div", {"class": "pager"}, *[t("a", {"href": f"?p={n}"}, str(n)) for n in range(1, 6)],
               t("a", {"href": "?p=2", "class": "next"}, "Next page"))  # fmt: skip
    return _doc("Search", box, filters, hint, el("div", {"id": "results"}, *results), pager)


def checkout_page(rng: random.Random) -> Node:
    items = rng.sample(PRODUCTS, 4)
    lines = [
        el("li", {"class": "cart-line", "id": f"line-{i}"},
           el("img", {"src": f"/img/c{i}.jpg", "alt": ""}),
           el("span", {"class": "line-name"}, name),
           el("label", {"class": "sr-only", "for": f"qty-{i}"}, f"Quantity for {name}"),
           t("input", {"type": "number", "id": f"qty-{i}", "name": f"qty[{i}]", "value": "1", "min": "1",
                       "class": "qty"}),
           el("span", {"class": "line-price"}, f"${rng.randint(10, 90)}.00"),
           t("button", {"type": "button", "class": "remove-line", "aria-label": f"Remove {name}"}, "Remove"))
        for i, name in enumerate(items)
    ]  # fmt: skip
    payment_doc = el("html", None, el("head", None, el("title", None, "Payment")), el("body", None,
        el("form", {"class": "card-form"},
           el("label", {"for": "cc-number"}, "Card number"),
           t("input", {"id": "cc-number", "name": "cardnumber", "autocomplete": "cc-number",
                       "placeholder": "1234 1234 1234 1234"}),
           el("label", {"for": "cc-exp"}, "Expiry"),
           t("input", {"id": "cc-exp", "name": "exp-date", "placeholder": "MM / YY"}),
           el("label", {"for": "cc-cvc"}, "CVC"),
           t("input", {"id": "cc-cvc", "name": "cvc", "placeholder": "CVC"}),
           t("button", {"type": "submit", "class": "pay-btn"}, "Pay now"))))  # fmt: skip
    iframe = Node(
        "iframe",
        {"name": "payment-frame", "title": "Secure payment", "width": "420", "height": "260"},
        frame=payment_doc,
    )
    shipping = el("fieldset", {"class": "shipping"}, el("legend", None, "Shipping address"),
                  *[el("div", {"class": "field"}, el("label", {"for": f"ship-{n}"}, lbl),
                       t("input", {"id": f"ship-{n}", "name": n, "autocomplete": ac}))
                    for n, lbl, ac in (("name", "Full name", "name"),
                                       ("street", "Street address", "street-address"),
                                       ("city", "City", "address-level2"),
                                       ("zip", "Postal code", "postal-code"))])  # fmt: skip
    summary = el("aside", {"class": "order-summary"}, t("h2", None, "Order summary"),
                 el("dl", None, el("dt", None, "Subtotal"), el("dd", None, "$120.00"),
                    el("dt", None, "Shipping"), el("dd", None, "$5.00")),
                 el("div", {"class": "coupon"}, t("input", {"name": "coupon", "placeholder": "Discount code"}),
                    t("button", {"type": "button", "class": "btn apply-coupon"}, "Apply")),
                 t("button", {"type": "submit", "class": "btn btn-primary checkout-btn", "id": "place-order"},
                   "Place order"))  # fmt: skip
    return _doc("Checkout", _site_header(rng),
                el("main", {"class": "checkout"}, t("h1", None, "Checkout"), el("ul", {"class": "cart"}, *lines),
                   shipping, el("section", {"class": "payment"}, t("h2", None, "Payment"), iframe),
                   summary))  # fmt: skip


def dashboard_page(rng: random.Random) -> Node:
    side = el("nav", {"class": "side-nav", "aria-label": "Dashboard"},
              *[t("a", {"href": f"/app/{x.lower()}", "class": "side-link" + (" active" if x == "Overview" else "")}, x)
                for x in ("Overview", "Runs", "Incidents", "Fixes", "Settings")])  # fmt: skip
    kpis = el("div", {"class": "kpis"},
              *[el("div", {"class": "kpi-card"}, el("span", {"class": "kpi-label"}, label),
                   el("strong", {"class": "kpi-value"}, value),
                   t("a", {"href": f"/app/{label.lower().replace(' ', '-')}", "class": "kpi-link"}, "Details"))
                for label, value in (("Open incidents", "3"), ("Fixes today", "17"),
                                     ("Success rate", "96%"))])  # fmt: skip
    # A web component with an open shadow root, as design systems ship them.
    widget = Node("acme-status-card", {"class": "status-widget"}, shadow=[
        el("div", {"class": "status"}, t("h3", {"part": "title"}, "System status"),
           el("p", None, "All systems operational"),
           t("button", {"class": "refresh", "type": "button"}, "Refresh status"),
           t("a", {"href": "/status", "class": "status-link"}, "View status page"))])  # fmt: skip
    activity = el("ul", {"class": "activity"},
                  *[el("li", {"class": "event"},
                       el("span", None, f"Run #{4200 + i} {rng.choice(['passed', 'healed', 'failed'])}"),
                       t("a", {"href": f"/app/runs/{4200 + i}", "class": "event-link"}, "View run"))
                    for i in range(8)])  # fmt: skip
    user_menu = el("div", {"class": "user-menu"},
                   t("button", {"class": "avatar", "aria-label": "Open user menu", "type": "button"}, "DN"),
                   el("ul", {"class": "menu"}, el("li", None, t("a", {"href": "/profile"}, "Profile")),
                      el("li", None, t("button", {"type": "button", "class": "signout"}, "Sign out"))))  # fmt: skip
    main = el("main", {"class": "dash"}, el("div", {"class": "topbar"}, t("h1", None, "Overview"), user_menu),
              kpis, widget, el("section", None, t("h2", None, "Recent activity"), activity,
                               t("button", {"class": "btn", "type": "button"}, "Load more")))  # fmt: skip
    return _doc("Dashboard", el("div", {"class": "app"}, side, main))


def admin_page(rng: random.Random) -> Node:
    """A large admin page (about 2,000 elements): a long member table plus the usual chrome."""
    people = _people(rng, 150)
    rows = [_user_row(i, p) for i, p in enumerate(people)]
    header = el("thead", None, el("tr", None, el("th", None, ""), *[el("th", {"scope": "col"}, h)
                for h in ("Name", "Email", "Role", "Status", "Actions")]))  # fmt: skip
    table = el("table", {"class": "table users-table"}, header, el("tbody", None, *rows))
    side = el("nav", {"class": "side-nav"}, *[el("div", {"class": "side-group"}, el("h4", None, g),
              *[t("a", {"href": f"/admin/{g.lower()}/{x.lower()}", "class": "side-link"}, x) for x in items])
              for g, items in (("People", ["Members", "Teams", "Roles", "Invites"]),
                               ("Billing", ["Plans", "Invoices", "Usage"]),
                               ("Security", ["Audit log", "SSO", "API keys"]))])  # fmt: skip
    toolbar = el("div", {"class": "toolbar"},
                 t("input", {"type": "search", "name": "q", "placeholder": "Search members"}),
                 t("button", {"class": "btn btn-primary", "type": "button", "data-testid": "invite"}, "Invite member"),
                 t("button", {"class": "btn", "type": "button"}, "Bulk edit"))  # fmt: skip
    return _doc("Admin", _site_header(rng), el("div", {"class": "admin"}, side,
                el("main", None, t("h1", None, "Members"), toolbar, table)), _site_footer())  # fmt: skip


PAGES: dict[str, Callable[[random.Random], Node]] = {
    "login": login_page,
    "signup": signup_page,
    "table": table_page,
    "navigation": nav_page,
    "products": products_page,
    "modal": modal_page,
    "settings": settings_page,
    "article": article_page,
    "search": search_page,
    "checkout": checkout_page,
    "dashboard": dashboard_page,
    "admin": admin_page,
}
