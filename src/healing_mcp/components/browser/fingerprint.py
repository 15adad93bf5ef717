"""Element fingerprints: what healing-mcp remembers about an element a browser agent used successfully.

A fingerprint is a plain record (JSON-serialisable, no browser objects) so it can be captured in one
place (the Playwright wrapper, another test tool, a crawler) and matched anywhere else. Every field is
optional except ``tag``; matchers must cope with missing data.

Fields
------
tag            lower-case tag name ("button", "input", "a")
id             the id attribute ("" when absent)
classes        class list, in document order
name, type     the name / type attributes (form controls)
role           explicit role attribute, else the implicit ARIA role (button, link, textbox, checkbox...)
accessible_name  the computed accessible name (aria-labelledby, aria-label, <label>, alt, title, text)
text           visible text (innerText), whitespace-collapsed, at most 200 characters
aria_label, placeholder, alt, title, href, value   the attributes of the same names
test_id        the first of data-testid / data-test-id / data-test / data-qa / data-cy that is present
test_id_attribute  which of those attributes held ``test_id`` ("" when there is none, or when the
               fingerprint was recorded before this field existed)
attributes     every other attribute as name -> value (data-*, aria-*, for, src...)
xpath          absolute XPath with positional indexes, e.g. /html/body/div[2]/form/button[1]
index_path     child indexes from the root element down to this element, e.g. [1, 3, 0, 2]
ancestors      ancestor summaries from the parent upwards: "tag#id.class1.class2" (at most 8)
neighbor_texts texts around the element, in this order, each at most once: the control's <label>; the
               nearest textual previous and next siblings (of the element, or of its closest
               ancestor that has some); the text of the element's record (the nearest ancestor that
               repeats under its parent: a table row, card, list item, form group; without the
               element's own text); and the nearest preceding heading
bbox           [x, y, width, height] in CSS pixels, page coordinates
visible        rendered, non-zero size, not visibility:hidden / display:none
enabled        not disabled (and not inside a disabled fieldset)
frame          frame path for elements in iframes ("" = main frame); shadow roots appear as ancestors
               with the marker "#shadow-root"
url            page URL (query and fragment removed) at capture time
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ElementFingerprint(BaseModel):
    model_config = ConfigDict(extra="ignore")

    tag: str
    id: str = ""
    classes: list[str] = Field(default_factory=list)
    name: str = ""
    type: str = ""
    role: str = ""
    accessible_name: str = ""
    text: str = ""
    aria_label: str = ""
    placeholder: str = ""
    alt: str = ""
    title: str = ""
    href: str = ""
    value: str = ""
    test_id: str = ""
    test_id_attribute: str = ""
    attributes: dict[str, str] = Field(default_factory=dict)
    xpath: str = ""
    index_path: list[int] = Field(default_factory=list)
    ancestors: list[str] = Field(default_factory=list)
    neighbor_texts: list[str] = Field(default_factory=list)
    bbox: list[float] | None = None
    visible: bool = True
    enabled: bool = True
    frame: str = ""
    url: str = ""

    def summary(self) -> str:
        """Short human description, e.g. ``button "Sign in" #login-btn``."""
        label = self.accessible_name or self.text or self.aria_label or self.placeholder
        parts: list[Any] = [self.tag]
        if label:
            parts.append(f'"{label[:40]}"')
        if self.id:
            parts.append(f"#{self.id}")
        return " ".join(str(p) for p in parts)
