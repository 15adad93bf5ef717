"""The matcher as a pure function: heals per change kind, refusals, selector-only heals, confidence."""

from __future__ import annotations

from typing import Any

import pytest

from healing_mcp.components.browser.fingerprint import ElementFingerprint
from healing_mcp.components.browser.matching import (
    MatchResult,
    confidence_of,
    is_random_id,
    match_element,
    parse_selector,
    text_similarity,
)


def fp(tag: str, **fields: Any) -> ElementFingerprint:
    return ElementFingerprint(tag=tag, **fields)


LOGIN = fp(
    "button",
    id="login-btn",
    classes=["btn", "btn-primary"],
    type="submit",
    role="button",
    accessible_name="Sign in",
    text="Sign in",
    test_id="login-submit",
    xpath="/html/body/main/form/button[1]",
    index_path=[1, 0, 0, 5],
    ancestors=["form#login-form.auth-form", "main.auth-page", "body", "html"],
    neighbor_texts=["Forgot password?", "or", "Sign in to Acme"],
    bbox=[500.0, 300.0, 80.0, 32.0],
)


def page_with(target: ElementFingerprint) -> list[ElementFingerprint]:
    """A login page around ``target``: the other elements a matcher must not pick."""
    return [
        fp("h1", role="heading", accessible_name="Sign in to Acme", text="Sign in to Acme",
           xpath="/html/body/main/form/h1", index_path=[1, 0, 0, 0], ancestors=LOGIN.ancestors,
           bbox=[400.0, 100.0, 300.0, 40.0]),
        fp("input", id="email", name="email", type="email", role="textbox", accessible_name="Email",
           placeholder="you@example.com", xpath="/html/body/main/form/div[1]/input", index_path=[1, 0, 0, 1, 1],
           ancestors=["div.form-group", *LOGIN.ancestors], neighbor_texts=["Email", "Sign in to Acme"],
           bbox=[400.0, 180.0, 200.0, 30.0]),
        fp("a", href="/forgot", role="link", accessible_name="Forgot password?", text="Forgot password?",
           classes=["forgot-link"], xpath="/html/body/main/form/div[3]/a", index_path=[1, 0, 0, 3, 1],
           ancestors=["div.form-row", *LOGIN.ancestors], neighbor_texts=["Remember me", "Sign in to Acme"],
           bbox=[560.0, 260.0, 120.0, 18.0]),
        target,
        fp("button", classes=["btn", "btn-social", "btn-google"], type="button", role="button",
           accessible_name="Sign in with Google", text="Sign in with Google", xpath="/html/body/main/form/button[2]",
           index_path=[1, 0, 0, 7], ancestors=LOGIN.ancestors, neighbor_texts=["or", "Sign in with GitHub"],
           bbox=[500.0, 380.0, 200.0, 32.0]),
        fp("a", href="/signup", role="link", accessible_name="Create an account", text="Create an account",
           xpath="/html/body/main/form/p/a", index_path=[1, 0, 0, 9, 0], ancestors=["p.signup-hint", *LOGIN.ancestors],
           neighbor_texts=["New here?"], bbox=[500.0, 440.0, 130.0, 18.0]),
    ]  # fmt: skip


def changed(**update: Any) -> ElementFingerprint:
    return LOGIN.model_copy(update=update, deep=True)


def assert_heals_to(result: MatchResult, index: int) -> None:
    assert result.healed, result.reason
    assert result.index == index, result.reason
    assert result.reason.startswith("matched")


CHANGES = {
    "id renamed": changed(id="signin-button"),
    "id now generated": changed(id=":r3f:"),
    "classes renamed": changed(classes=["Button_primary__a8f3k2", "Button_root__99x1aa"]),
    "wrapper inserted": changed(
        xpath="/html/body/main/form/div[4]/button", index_path=[1, 0, 0, 5, 0],
        ancestors=["div.wrapper", *LOGIN.ancestors], bbox=[500.0, 304.0, 80.0, 32.0],
    ),
    "siblings inserted before": changed(
        xpath="/html/body/main/form/button[2]", index_path=[1, 0, 0, 7], bbox=[500.0, 360.0, 80.0, 32.0]
    ),
    "text edited": changed(accessible_name="Sign in now", text="Sign in now"),
    "text reworded to a synonym": changed(accessible_name="Log in", text="Log in"),
    "test id and id removed": changed(test_id="", id=""),
    "tag swapped to a link": changed(tag="a", href="#", role="button", type=""),
    "moved across the tree": changed(
        xpath="/html/body/header/div/button", index_path=[1, 0, 1, 0],
        ancestors=["div.header-actions", "header.site-header", "body", "html"], bbox=[1100.0, 20.0, 80.0, 32.0],
        neighbor_texts=["My account"],
    ),
    "redesign: classes, wrapper and text at once": changed(
        classes=["inline-flex", "px-4", "py-2"], text="Sign in →", accessible_name="Sign in →",
        xpath="/html/body/main/form/div[4]/button", index_path=[1, 0, 0, 5, 0],
        ancestors=["div.flex.gap-2", *LOGIN.ancestors],
    ),
}  # fmt: skip


@pytest.mark.parametrize("change", list(CHANGES))
def test_heals_each_change_kind(change: str) -> None:
    candidates = page_with(CHANGES[change])
    result = match_element(LOGIN, candidates, failed_selector="#login-btn")
    assert_heals_to(result, 3)
    assert result.confidence > 0.5
    assert result.ranked[0].index == 3
    assert "text" in result.ranked[0].evidence


def test_unchanged_element_heals_with_high_confidence() -> None:
    result = match_element(LOGIN, page_with(LOGIN))
    assert_heals_to(result, 3)
    assert result.confidence > 0.95
    assert result.ranked[0].score > 0.95


def _card_button(product: str, price: str, row: int) -> ElementFingerprint:
    slug = product.lower().replace(" ", "-")
    return fp(
        "button", classes=["btn", "add-to-cart"], type="button", role="button", accessible_name="Add to cart",
        text="Add to cart", xpath=f"/html/body/main/div/article[{row}]/div/div/button[1]",
        index_path=[1, 1, 0, row - 1, 1, 3, 0], ancestors=["div.card-actions", "div.card-body",
        f"article#product-{slug}.card.product-card", "div.product-grid", "main", "body", "html"],
        neighbor_texts=["♡", f"{product} {price} ★★★★", product], bbox=[20.0 + 230 * (row - 1), 400.0, 100.0, 30.0],
    )  # fmt: skip


def test_look_alike_in_another_card_stays_distinguishable() -> None:
    stored = _card_button("Blue ceramic mug", "$12.00", 3)
    # v2: a new card was inserted first, so every card moved one place to the right.
    candidates = [
        _card_button("Mint green vase", "$42.00", 1),
        _card_button("Walnut desk lamp", "$89.00", 2),
        _card_button("Linen apron", "$19.50", 3),
        _card_button("Blue ceramic mug", "$12.00", 4),
        _card_button("Wool beanie", "$15.00", 5),
    ]
    result = match_element(stored, candidates)
    assert_heals_to(result, 3)
    assert result.margin > 0.05


def test_refuses_near_tie_of_look_alikes() -> None:
    stored = _card_button("Blue ceramic mug", "$12.00", 3)
    # Two cards that differ from each other only where the stored card gives no clue.
    twin_a = _card_button("Blue ceramic mug", "$12.00", 3)
    twin_b = _card_button("Blue ceramic mug", "$12.00", 4).model_copy(update={"index_path": twin_a.index_path,
                                                                             "bbox": twin_a.bbox})  # fmt: skip
    result = match_element(stored, [twin_a, twin_b])
    assert not result.healed
    assert result.index is None
    assert result.rule in ("ambiguous", "unconfirmed"), result.reason


def test_refuses_when_the_best_candidate_is_hidden() -> None:
    hidden = changed(visible=False, bbox=[0.0, 0.0, 0.0, 0.0])
    result = match_element(LOGIN, page_with(hidden))
    assert not result.healed
    assert result.index is None
    assert "hidden" in result.reason
    assert result.rule == "hidden"
    assert result.ranked[0].index == 3  # ranked still shows what was found, for diagnosis


def test_refuses_when_the_best_candidate_is_disabled() -> None:
    result = match_element(LOGIN, page_with(changed(enabled=False)))
    assert not result.healed
    assert "disabled" in result.reason
    assert result.rule == "disabled"


def test_refuses_when_nothing_is_similar_enough() -> None:
    others = [c for i, c in enumerate(page_with(LOGIN)) if i != 3]
    result = match_element(LOGIN, others)
    assert not result.healed
    assert result.index is None
    assert "similar enough" in result.reason or "ambiguous" in result.reason


def test_refuses_without_candidates_or_without_anything_to_match() -> None:
    assert not match_element(LOGIN, []).healed
    nothing = match_element(None, page_with(LOGIN))
    assert not nothing.healed
    assert "nothing to match" in nothing.reason


def test_inner_span_with_same_label_is_not_a_rival() -> None:
    button = changed()
    span = fp("span", text="Sign in", xpath=LOGIN.xpath + "/span", index_path=[*LOGIN.index_path, 0],
              ancestors=["button#login-btn.btn.btn-primary", *LOGIN.ancestors],
              bbox=[510.0, 306.0, 60.0, 20.0])  # fmt: skip
    result = match_element(LOGIN, [span, button])
    assert_heals_to(result, 1)


def test_threshold_and_margin_are_honoured() -> None:
    candidates = page_with(CHANGES["text reworded to a synonym"])
    assert match_element(LOGIN, candidates).healed
    strict = match_element(LOGIN, candidates, threshold=0.999)
    assert not strict.healed and "threshold" in strict.reason
    picky = match_element(LOGIN, candidates, min_margin=0.99)
    assert not picky.healed and "ambiguous" in picky.reason


def _row_link(name: str, user: int, row: int) -> ElementFingerprint:
    return fp(
        "a", href=f"/users/{user}", role="link", accessible_name=name, text=name,
        xpath=f"/html/body/table/tbody/tr[{row}]/td[1]/a", index_path=[1, 0, 0, row - 1, 0, 0],
        ancestors=["td", "tr", "tbody", "table", "body", "html"], neighbor_texts=[f"{name} {name.lower()}@x.org"],
        bbox=[10.0, 30.0 * row, 90.0, 18.0],
    )  # fmt: skip


def test_a_link_to_another_record_is_not_the_same_link() -> None:
    # Ann's row was deleted; the row that took its place links to another user with the same name.
    stored = _row_link("Ann Lee", 3, 2)
    other = _row_link("Ann Lee", 7, 2).model_copy(update={"neighbor_texts": ["Ann Lee ann.lee@y.org"]})
    result = match_element(stored, [_row_link("Bo Chan", 4, 1), other, _row_link("Cy Diaz", 5, 3)])
    assert not result.healed, result.reason
    # Ann's other namesake is not even a candidate: it is set aside, and the result says why.
    assert result.set_aside[0].index == 1
    assert result.set_aside[0].evidence["href"] == pytest.approx(0.1)
    assert "another record" in result.set_aside[0].ruled_out
    assert "set aside" in result.reason
    assert result.confidence < 0.5


def test_refuses_an_element_outside_the_targets_container() -> None:
    def reply(comment: int, author: str) -> ElementFingerprint:
        return fp("button", role="button", accessible_name="Reply", text="Reply", classes=["reply"],
                  xpath=f"/html/body/ol/li[{comment}]/div/button", index_path=[1, 0, comment - 1, 2, 0],
                  ancestors=["div.actions", f"li#comment-{100 + comment}.comment", "ol", "body", "html"],
                  neighbor_texts=["Like", f"{author} 2 days ago Great post Like"])  # fmt: skip

    stored = reply(2, "Ann Lee")
    # Comment 102 is still there, but its Reply button is gone; comment 103 says nearly the same.
    survivors = [reply(1, "Bo Chan"), reply(3, "Ann Leeds")]
    container = fp("li", id="comment-102", classes=["comment"], text="Ann Lee 2 days ago Great post Like",
                   xpath="/html/body/ol/li[2]", index_path=[1, 0, 1], ancestors=["ol", "body", "html"])  # fmt: skip
    like = fp("button", role="button", accessible_name="Like", text="Like", xpath="/html/body/ol/li[2]/div/button",
              index_path=[1, 0, 1, 2, 0],
              ancestors=["div.actions", "li#comment-102.comment", "ol", "body", "html"])  # fmt: skip
    result = match_element(stored, [*survivors, container, like])
    assert not result.healed, result.reason
    assert result.index is None


def test_a_former_neighbour_is_not_the_target() -> None:
    def tab(name: str, i: int, neighbours: list[str]) -> ElementFingerprint:
        return fp("button", role="tab", accessible_name=name, text=name, classes=["tab"], id=f"tab-{name.lower()}",
                  xpath=f"/html/body/div/button[{i}]", index_path=[1, 0, i - 1], ancestors=["div.tabs", "body", "html"],
                  neighbor_texts=neighbours, bbox=[70.0 * i, 10.0, 60.0, 20.0])  # fmt: skip

    stored = tab("Account", 2, ["Profile", "Billing", "Settings"])
    v2 = [tab("Profile", 1, ["Billing", "Settings"]), tab("Billing", 2, ["Profile", "Settings"])]
    result = match_element(stored, v2)
    assert not result.healed, result.reason
    assert result.rule in ("unconfirmed", "ambiguous", "threshold")
    assert not result.confirmed or result.rule != "unconfirmed"


def _home(where: str, i: int, neighbours: list[str], classes: list[str] | None = None) -> ElementFingerprint:
    return fp("a", href="/", role="link", accessible_name="Home", text="Home", classes=classes or [],
              xpath=f"/html/body/{where}/li[1]/a", index_path=[1, i, 0, 0],
              ancestors=["li", where, "body", "html"], neighbor_texts=neighbours,
              bbox=[56.0, 16.0 + 250 * i, 42.0, 17.0])  # fmt: skip


def _docs(where: str, i: int) -> ElementFingerprint:
    return fp("a", href="/docs", role="link", accessible_name="Docs", text="Docs", xpath=f"/html/body/{where}/li[2]/a",
              index_path=[1, i, 1, 0], ancestors=["li", where, "body", "html"], neighbor_texts=["Getting started"],
              bbox=[120.0, 16.0 + 250 * i, 40.0, 17.0])  # fmt: skip


def test_a_look_alike_in_another_region_is_not_the_deleted_target() -> None:
    # The breadcrumb's "Home" was deleted; the menu's "Home" links to the same page but is another element.
    stored = _home("ol.breadcrumb", 2, ["Docs", "Docs Getting started"])
    menu_home = _home("ul.menu", 0, ["Products", "Pricing"], classes=["menu-link"])
    result = match_element(stored, [menu_home, _docs("ol.breadcrumb", 2)])
    assert not result.healed, result.reason
    assert result.set_aside[0].index == 0
    assert "region ol.breadcrumb" in result.set_aside[0].ruled_out


def test_the_target_word_for_word_heals_outside_its_region() -> None:
    stored = _home("ol.breadcrumb", 2, ["Docs", "Docs Getting started"])
    moved = _home("ul.menu", 0, ["Products", "Pricing"])  # the same link, now in the menu
    assert_heals_to(match_element(stored, [moved, _docs("ol.breadcrumb", 2)]), 0)


def _card_title(title: str, product: int, slot: int, neighbours: list[str]) -> ElementFingerprint:
    return fp("h3", role="heading", accessible_name=title, text=title, classes=["card-title"],
              xpath=f"/html/body/main/div/article[{slot}]/div/h3", index_path=[1, 0, 0, slot - 1, 1, 0],
              ancestors=["div.card-body", f"article#product-{product}.card", "div.grid", "main", "body", "html"],
              neighbor_texts=neighbours, bbox=[20.0 + 230 * (slot - 1), 400.0, 220.0, 22.0])  # fmt: skip


def _card_image(title: str, product: int, slot: int) -> ElementFingerprint:
    return fp("img", role="img", accessible_name=title, alt=title, xpath=f"/html/body/main/div/article[{slot}]/img",
              index_path=[1, 0, 0, slot - 1, 0], bbox=[20.0 + 230 * (slot - 1), 200.0, 220.0, 180.0],
              ancestors=[f"article#product-{product}.card", "div.grid", "main", "body", "html"])  # fmt: skip


def test_an_unchanged_element_with_a_unique_label_heals_in_another_record() -> None:
    stored = _card_title("Brass candle holder", 11, 3, ["$46.50", "$46.50 Add to cart", "Marble coaster set"])
    # v2: the title moved into card 7; card 11 is still there with its image.
    moved = _card_title("Brass candle holder", 7, 1, ["$12.00", "Blue ceramic mug $12.00 Add to cart"])
    others = [_card_title("Blue ceramic mug", 7, 1, ["$12.00"]), _card_image("Brass candle holder", 11, 3),
              _card_title("Marble coaster set", 10, 2, ["$9.00"])]  # fmt: skip
    assert_heals_to(match_element(stored, [*others, moved]), 3)


def test_a_look_alike_in_another_record_is_no_rival() -> None:
    stored = _card_title("Felt slippers", 5, 2, ["$114.00", "$114.00 Add to cart", "Wool beanie"])
    # v2: a copy of the card (other price, id product-5-b) took the target's place; the target moved on.
    copy = _card_title("Felt slippers", 5, 2, ["$17.50", "$17.50 Add to cart", "Wool beanie"]).model_copy(
        update={"ancestors": ["div.card-body", "article#product-5-b.card", "div.grid", "main", "body", "html"]}
    )
    target = _card_title("Felt slippers", 5, 3, ["$114.00", "$114.00 Add to cart", "Felt slippers"])
    result = match_element(stored, [_card_title("Wool beanie", 4, 1, ["$15.00"]), copy, target])
    assert_heals_to(result, 2)


def test_the_label_of_a_field_is_no_rival_of_the_field() -> None:
    stored = fp("input", id="city", name="city", type="text", role="textbox", accessible_name="City",
                classes=["form-input"], xpath="/html/body/form/div[2]/input", index_path=[1, 0, 1, 1],
                ancestors=["div.field", "form", "body"], neighbor_texts=["City", "Street address"],
                bbox=[20.0, 120.0, 200.0, 30.0])  # fmt: skip
    # v2: id and name removed, so the <label for=city> no longer names the field.
    field = stored.model_copy(update={"id": "", "name": "", "accessible_name": ""})
    label = fp("label", text="City", accessible_name="", xpath="/html/body/form/div[2]/label",
               index_path=[1, 0, 1, 0], ancestors=["div.field", "form", "body"],
               neighbor_texts=["Street address"], bbox=[20.0, 100.0, 40.0, 18.0])  # fmt: skip
    street = fp("input", id="street", name="street", type="text", role="textbox", accessible_name="Street address",
                xpath="/html/body/form/div[1]/input", index_path=[1, 0, 0, 1], ancestors=["div.field", "form", "body"],
                neighbor_texts=["Street address"], bbox=[20.0, 40.0, 200.0, 30.0])  # fmt: skip
    result = match_element(stored, [label, street, field])
    assert_heals_to(result, 2)
    # The label outscores the other field but is set aside: the lead is measured against the field.
    assert [r.index for r in result.ranked] == [2, 1]


def _member_delete(name: str, row: int, neighbours: list[str]) -> ElementFingerprint:
    return fp("button", role="button", accessible_name="Delete", text="Delete", classes=["btn", "btn-danger"],
              xpath=f"/html/body/table/tbody/tr[{row}]/td[4]/button", index_path=[1, 0, 0, row - 1, 3, 1],
              ancestors=["td.actions", "tr.user-row", "tbody", "table", "body", "html"],
              neighbor_texts=[*neighbours, f"{name} {name.lower().replace(' ', '.')}@example.com Admin", "Members"],
              bbox=[560.0, 40.0 + 30 * row, 54.0, 21.0])  # fmt: skip


def test_a_rows_own_text_outweighs_what_every_row_says() -> None:
    names = ["Alice Rossi", "Alice Larsen", "Bo Chan", "Cy Diaz", "Dee Ito", "Eve Park"]
    stored = _member_delete("Alice Rossi", 1, ["Edit", "⋯"])
    # v2: the row's buttons were reordered, so "⋯" is no longer next to Delete in Alice Rossi's row.
    v2 = [_member_delete(name, i + 1, ["Edit"] if i == 0 else ["Edit", "⋯"]) for i, name in enumerate(names)]
    assert_heals_to(match_element(stored, v2), 0)


# ------------------------------------------------------------------------------- selector only


def plain_page() -> list[ElementFingerprint]:
    return [
        fp("a", href="/", role="link", accessible_name="Home", text="Home"),
        fp("input", name="email", type="email", role="textbox", accessible_name="Email address",
           placeholder="you@example.com"),
        fp("button", role="button", accessible_name="Log in", text="Log in", classes=["primary"]),
        fp("button", role="button", accessible_name="Create account", text="Create account"),
        fp("a", href="/help", role="link", accessible_name="Help", text="Help"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("#login-btn", 2),
        ("#signin", 2),
        ("button.login-button", 2),
        ("text=Log in", 2),
        ('text="Login"', 2),
        ('role=button[name="Sign in"]', 2),
        ('internal:role=button[name="Sign in"i]', 2),
        ('internal:testid=[data-testid="create-account"s]', 3),
        ('[data-testid="signup-button"]', 3),
        ('button:has-text("Create account")', 3),
        ("//button[text()='Create an account']", 3),
        ('internal:label="Email"i', 1),
        ('input[placeholder="you@example.org"]', 1),
        ('internal:attr=[placeholder="you@example.com"i]', 1),
        ("#main-nav >> text=Help", 4),
    ],
)
def test_heals_from_the_failed_selector_alone(selector: str, expected: int) -> None:
    result = match_element(None, plain_page(), failed_selector=selector)
    assert result.healed, result.reason
    assert result.index == expected
    assert "failed selector" in result.reason


def test_selector_alone_refuses_when_it_says_nothing_useful() -> None:
    result = match_element(None, plain_page(), failed_selector="div > div:nth-child(3)")
    assert not result.healed


def assert_refusal_costs_confidence(result: MatchResult) -> None:
    """A refusal by the selector check is a failed consistency check: the calibrated confidence takes
    the penalty for it, instead of reading like the lead of a clear match."""
    if result.rule != "selector":
        return
    assert not result.confirmed
    top = result.ranked[0]
    refused = confidence_of(top.score, result.margin, confirmed=False, from_selector=True)
    assert result.confidence == pytest.approx(refused, abs=1e-3)
    assert result.confidence < confidence_of(top.score, result.margin, from_selector=True)


@pytest.mark.parametrize(
    "selector",
    [
        "#password",  # no element says "password"
        'input[name="last_name"]',  # the only "last name" element would be a label, not an input
        'role=checkbox[name="Accept"]',  # no checkbox
        'internal:label="Home"i',  # the "Home" link is not a labelled control
    ],
)
def test_selector_alone_refuses_rather_than_guess(selector: str) -> None:
    page = [*plain_page(), fp("label", text="Last name", accessible_name="")]
    result = match_element(None, page, failed_selector=selector)
    assert not result.healed, result.reason
    assert result.index is None
    assert_refusal_costs_confidence(result)


@pytest.mark.parametrize(
    "selector",
    [
        'input[name="password_confirm"]',  # a field name is an identifier: this is not "password"
        'text="acme doc"',  # what was typed into the search field is not its label
        'a:has-text("Tara Larsen")',  # one letter makes another person
    ],
)
def test_selector_alone_does_not_take_a_near_namesake(selector: str) -> None:
    page = [
        fp("input", id="su-password", name="password", type="password", role="textbox", accessible_name="Password"),
        fp("input", name="q", type="search", role="searchbox", accessible_name="Search", value="acme docs"),
        fp("a", href="/users/8", role="link", accessible_name="Yara Larsen", text="Yara Larsen"),
        fp("button", role="button", accessible_name="Sign up", text="Sign up"),
    ]
    result = match_element(None, page, failed_selector=selector)
    assert not result.healed, result.reason
    assert_refusal_costs_confidence(result)


def test_failed_selector_is_extra_evidence_with_a_fingerprint() -> None:
    stored = fp("button", role="button", accessible_name="Save", text="Save", xpath="/html/body/div/button[1]",
                index_path=[1, 0, 0])  # fmt: skip
    draft = fp("button", role="button", accessible_name="Save", text="Save", id="save-draft",
               xpath="/html/body/div/button[1]", index_path=[1, 0, 0])  # fmt: skip
    publish = fp("button", role="button", accessible_name="Save", text="Save", id="save-publish",
                 xpath="/html/body/div/button[2]", index_path=[1, 0, 1])  # fmt: skip
    with_selector = match_element(stored, [draft, publish], failed_selector="#publish-button")
    without = match_element(stored, [draft, publish])
    assert with_selector.ranked[0].index == 1
    assert without.ranked[0].index == 0


# ------------------------------------------------------------------------------- confidence


def test_confidence_increases_with_margin_and_score() -> None:
    margins = [confidence_of(0.8, m / 20) for m in range(0, 21)]
    assert margins == sorted(margins)
    assert margins[0] < margins[-1]
    scores = [confidence_of(s / 20, 0.1) for s in range(0, 21)]
    assert scores == sorted(scores)
    assert min(scores) >= 0.0 and max(scores) <= 1.0


def test_confidence_of_a_match_grows_as_the_runner_up_falls_behind() -> None:
    stored = _card_button("Blue ceramic mug", "$12.00", 3)
    target = _card_button("Blue ceramic mug", "$12.00", 3)
    confidences = []
    margins = []
    for rival_product, price in (("Blue ceramic mug", "$12.00"), ("Blue ceramic bowl", "$14.00"), ("Wool hat", "$9")):
        rival = _card_button(rival_product, price, 4)
        result = match_element(stored, [target, rival], min_margin=0.0)
        assert result.ranked[0].index == 0
        confidences.append(result.confidence)
        margins.append(result.margin)
    assert margins == sorted(margins) and margins[0] < margins[-1]
    assert confidences == sorted(confidences)
    assert confidences[0] < confidences[-1]


# ------------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("value", "random"),
    [
        (":r3:", True), ("«r1»", True), ("ember123", True), ("mui-42", True), ("radix-:r2:-trigger", True),
        ("3f2504e0-4f89-11d3-9a0c-0305e82c3301", True), ("btn-a8f3k2x9", True), ("item-1699999999", True),
        ("login-btn", False), ("step-2", False), ("tab1", False), ("user-profile", False), ("mainNav", False),
    ],
)  # fmt: skip
def test_random_id_heuristic(value: str, random: bool) -> None:
    assert is_random_id(value) is random


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("#login-btn", {"id": "login-btn", "words": ["signin", "button"]}),
        (".btn.btn-primary", {"classes": ["btn", "btn-primary"]}),
        ('[data-testid="cart"]', {"test_id": "cart"}),
        ("text=Sign in", {"text": "Sign in"}),
        ('text="Sign in"', {"text": "Sign in"}),
        ('role=button[name="Sign in"]', {"role": "button", "name": "Sign in"}),
        ('internal:role=button[name="Sign \\"in\\""i]', {"role": "button", "name": 'Sign "in"'}),
        ('internal:testid=[data-testid="x"s]', {"test_id": "x"}),
        ('internal:text="Foo"i', {"text": "Foo"}),
        ('internal:label="Email"i', {"label": "Email"}),
        ("placeholder=Search", {"placeholder": "Search"}),
        ('internal:attr=[placeholder="Search"i]', {"placeholder": "Search"}),
        ('button:has-text("Add to cart")', {"tag": "button", "text": "Add to cart"}),
        ("//button[text()='x']", {"tag": "button", "text": "x"}),
        ("//*[@id='abc']", {"id": "abc"}),
        ("//a[contains(text(),'More')]", {"tag": "a", "text": "More"}),
        ("xpath=//input[@name=\"q\"]", {"tag": "input", "attributes": {"name": "q"}}),
        ("#id >> text=Foo", {"text": "Foo"}),
        ('iframe[name="x"] >> internal:control=enter-frame >> text="Pay"',
         {"text": "Pay", "frame": 'iframe[name="x"]'}),
        ("form#login > div.row input[name=email]", {"tag": "input", "attributes": {"name": "email"}}),
    ],
)  # fmt: skip
def test_parse_selector(selector: str, expected: dict[str, Any]) -> None:
    hints = parse_selector(selector)
    for key, value in expected.items():
        assert getattr(hints, key) == value, (key, hints)


def test_parse_selector_never_raises_on_garbage() -> None:
    for junk in ["", ">>", "[[[", "//*[", "role=", 'text="unterminated', "internal:control=enter-frame"]:
        parse_selector(junk)


def test_text_similarity_handles_small_edits() -> None:
    assert text_similarity("Sign in", "sign in") == 1.0
    assert text_similarity("Sign in", "Log in") > 0.9
    assert text_similarity("Email", "Email address") > 0.6
    assert text_similarity("Subscribe", "Subscirbe") > 0.7
    assert text_similarity("Password", "Pasword") > 0.7
    assert text_similarity("Add to cart", "Delete account") < 0.2
    assert text_similarity("Edit", "Exit") == 0.0  # short words one edit apart are other words
