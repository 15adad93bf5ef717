// Element capture for healing-mcp, evaluated inside the page by capture.py.
//
// This file is the body of a function expression: capture.py wraps it as
//   (target, options) => { <this file>; return healingCapture.one(target, options); }
// or the same with `.candidates(options)`. It defines nothing on the page except one registry (a
// Symbol-keyed, non-enumerable window property) holding the candidate elements of the last capture, so
// that Python can turn a candidate index back into an element handle. No attribute is ever written to
// the user's DOM.
//
// Output records follow healing_mcp.components.browser.fingerprint.ElementFingerprint (without `frame`,
// which Python fills in, and with bbox in this frame's page coordinates).

const healingCapture = (() => {
  const TEST_ID_ATTRS = ["data-testid", "data-test-id", "data-test", "data-qa", "data-cy"];
  // Attributes that have their own fingerprint field (or carry no identity, like style).
  const DEDICATED = new Set([
    "id", "class", "name", "type", "role", "aria-label", "placeholder", "alt", "title", "href", "value",
    "style",
  ]);
  const SKIP_SUBTREE = new Set([
    "head", "script", "style", "noscript", "template", "meta", "link", "title", "base",
  ]);
  // Tags that are worth offering as targets even without own text.
  const TARGET_TAGS = new Set([
    "a", "button", "input", "select", "textarea", "summary", "label", "img", "option", "area", "iframe",
    "video", "audio", "canvas", "h1", "h2", "h3", "h4", "h5", "h6", "th", "td", "li", "details",
  ]);
  const TARGET_ATTRS = [
    "role", "tabindex", "onclick", "contenteditable", "aria-label", "aria-labelledby", "title", "alt",
    "placeholder", ...TEST_ID_ATTRS,
  ];
  // Roles whose accessible name comes from their content (WAI-ARIA "name from content").
  const NAME_FROM_CONTENT = new Set([
    "button", "link", "heading", "cell", "columnheader", "rowheader", "option", "menuitem",
    "menuitemcheckbox", "menuitemradio", "tab", "treeitem", "checkbox", "radio", "switch", "tooltip",
    "row", "gridcell", "sectionhead",
  ]);
  const HEADING_SELECTOR = "h1,h2,h3,h4,h5,h6,[role=heading],legend,caption";
  const LABELABLE = new Set(["input", "select", "textarea", "meter", "progress", "output"]);
  const DISABLEABLE = new Set(["button", "input", "select", "textarea", "option", "optgroup", "fieldset"]);
  const REGISTRY = Symbol.for("healing-mcp.candidates");
  const CONTEXT_LENGTH = 120;

  const collapse = (s) => (s || "").replace(/\s+/g, " ").trim();
  const tagOf = (el) => (el.localName || el.tagName || "").toLowerCase();

  const shownMemo = new Map();
  function shown(el) {
    let v = shownMemo.get(el);
    if (v === undefined) {
      v = typeof el.checkVisibility === "function" ? el.checkVisibility({ visibilityProperty: true }) : true;
      shownMemo.set(el, v);
    }
    return v;
  }

  // Long texts are cut at a word boundary: half a word would look like a rare word to a matcher.
  function clip(text, n) {
    if (text.length <= n) return text;
    const cut = text.lastIndexOf(" ", n);
    return cut > n / 2 ? text.slice(0, cut) : text.slice(0, n);
  }

  // innerText is layout-aware (hidden text excluded) but costs O(subtree): memoise per capture.
  const textMemo = new Map();
  function visText(el) {
    let t = textMemo.get(el);
    if (t === undefined) {
      let raw = typeof el.innerText === "string" ? el.innerText : el.textContent;
      // Hidden elements still have a label (innerText of a visibility:hidden element is empty).
      if (!raw.trim() && !shown(el)) raw = el.textContent;
      t = clip(collapse(raw), 200);
      textMemo.set(el, t);
    }
    return t;
  }

  function hasOwnText(el) {
    for (let n = el.firstChild; n; n = n.nextSibling) {
      if (n.nodeType === 3 && n.nodeValue.trim()) return true;
    }
    return false;
  }

  function inputRole(el) {
    const type = (el.getAttribute("type") || "text").toLowerCase();
    const list = el.hasAttribute("list");
    switch (type) {
      case "button": case "submit": case "reset": case "image": return "button";
      case "checkbox": return "checkbox";
      case "radio": return "radio";
      case "range": return "slider";
      case "number": return "spinbutton";
      case "search": return list ? "combobox" : "searchbox";
      case "hidden": case "file": case "color": return "";
      default: return list ? "combobox" : "textbox";
    }
  }

  function implicitRole(el, tag) {
    switch (tag) {
      case "a": case "area": return el.hasAttribute("href") ? "link" : "";
      case "button": return "button";
      case "input": return inputRole(el);
      case "select": return el.multiple || el.size > 1 ? "listbox" : "combobox";
      case "textarea": return "textbox";
      case "img": return el.getAttribute("alt") === "" ? "presentation" : "img";
      case "h1": case "h2": case "h3": case "h4": case "h5": case "h6": return "heading";
      case "nav": return "navigation";
      case "main": return "main";
      case "header": return el.closest("article,aside,main,nav,section") ? "" : "banner";
      case "footer": return el.closest("article,aside,main,nav,section") ? "" : "contentinfo";
      case "aside": return "complementary";
      case "form": return "form";
      case "section":
        return el.hasAttribute("aria-label") || el.hasAttribute("aria-labelledby") ? "region" : "";
      case "article": return "article";
      case "ul": case "ol": case "menu": return "list";
      case "li": return "listitem";
      case "table": return "table";
      case "thead": case "tbody": case "tfoot": return "rowgroup";
      case "tr": return "row";
      case "td": return "cell";
      case "th": return el.getAttribute("scope") === "row" ? "rowheader" : "columnheader";
      case "dialog": return "dialog";
      case "option": return "option";
      case "optgroup": case "fieldset": case "details": return "group";
      case "progress": return "progressbar";
      case "meter": return "meter";
      case "hr": return "separator";
      case "output": return "status";
      case "dd": return "definition";
      case "dt": return "term";
      case "figure": return "figure";
      case "p": return "paragraph";
      case "blockquote": return "blockquote";
      default: return "";
    }
  }

  function labelsText(el) {
    const labels = el.labels;
    if (!labels || !labels.length) return "";
    return collapse(Array.from(labels, (l) => visText(l)).join(" "));
  }

  function accessibleName(el, tag, role) {
    const labelledBy = el.getAttribute("aria-labelledby");
    if (labelledBy) {
      const root = el.getRootNode();
      const parts = [];
      for (const id of labelledBy.split(/\s+/)) {
        const ref = id && root.getElementById ? root.getElementById(id) : null;
        if (ref) parts.push(visText(ref) || collapse(ref.textContent));
      }
      const joined = collapse(parts.join(" "));
      if (joined) return joined;
    }
    const aria = collapse(el.getAttribute("aria-label"));
    if (aria) return aria;
    if (tag === "input") {
      const type = (el.getAttribute("type") || "text").toLowerCase();
      if (type === "button" || type === "submit" || type === "reset") {
        const v = collapse(el.getAttribute("value"));
        return v || (type === "submit" ? "Submit" : type === "reset" ? "Reset" : "");
      }
      if (type === "image") return collapse(el.getAttribute("alt") || el.getAttribute("value")) || "Submit";
    }
    if (LABELABLE.has(tag)) {
      const fromLabel = labelsText(el);
      if (fromLabel) return fromLabel;
    }
    if (tag === "img" || tag === "area") {
      const alt = collapse(el.getAttribute("alt"));
      if (alt) return alt;
    }
    if (tag === "fieldset") {
      const legend = el.querySelector(":scope > legend");
      if (legend) return visText(legend);
    }
    if (tag === "table") {
      const caption = el.querySelector(":scope > caption");
      if (caption) return visText(caption);
    }
    if (tag === "figure") {
      const caption = el.querySelector(":scope > figcaption");
      if (caption) return visText(caption);
    }
    if (NAME_FROM_CONTENT.has(role) || tag === "summary") {
      const text = visText(el);
      if (text) return text;
    }
    const title = collapse(el.getAttribute("title"));
    if (title) return title;
    if (tag === "input" || tag === "textarea") return collapse(el.getAttribute("placeholder"));
    return "";
  }

  function isEnabled(el, tag) {
    if (el.getAttribute("aria-disabled") === "true") return false;
    if (DISABLEABLE.has(tag)) return !el.matches(":disabled");
    return true;
  }

  function isVisible(el, rect) {
    if (!(rect.width > 0 && rect.height > 0)) return false;
    if (typeof el.checkVisibility === "function") {
      return el.checkVisibility({ visibilityProperty: true, checkVisibilityCSS: true });
    }
    const style = getComputedStyle(el);
    return style.visibility !== "hidden" && style.display !== "none";
  }

  function summary(el) {
    let s = tagOf(el);
    const id = el.getAttribute("id");
    if (id) s += "#" + id;
    const cls = el.classList;
    for (let i = 0; i < cls.length && i < 4; i++) s += "." + cls[i];
    return s;
  }

  // Positions among siblings, computed once per parent (element or shadow root).
  const siblingMemo = new Map();
  function siblingInfo(container) {
    let info = siblingMemo.get(container);
    if (info) return info;
    info = new Map();
    const counts = new Map();
    const kids = container.children;
    for (let i = 0; i < kids.length; i++) {
      const t = tagOf(kids[i]);
      counts.set(t, (counts.get(t) || 0) + 1);
    }
    const seen = new Map();
    for (let i = 0; i < kids.length; i++) {
      const t = tagOf(kids[i]);
      const nth = (seen.get(t) || 0) + 1;
      seen.set(t, nth);
      info.set(kids[i], [i, nth, counts.get(t)]);
    }
    siblingMemo.set(container, info);
    return info;
  }

  // xpath, index_path and ancestors, memoised so a full-page capture stays linear.
  const pathMemo = new Map();
  function pathInfo(el) {
    let info = pathMemo.get(el);
    if (info) return info;
    const tag = tagOf(el);
    const parent = el.parentNode;
    if (!parent || parent.nodeType === 9 || !(parent.nodeType === 1 || (parent.nodeType === 11 && parent.host))) {
      info = { xp: "/" + tag, ip: [], anc: [] };
    } else {
      const [idx, nth, count] = siblingInfo(parent).get(el);
      const seg = count > 1 ? `${tag}[${nth}]` : tag;
      if (parent.nodeType === 11) {
        const host = pathInfo(parent.host);
        info = {
          xp: host.xp + "/#shadow-root/" + seg,
          ip: host.ip.concat([idx]),
          anc: ["#shadow-root", summary(parent.host)].concat(host.anc).slice(0, 8),
        };
      } else {
        const up = pathInfo(parent);
        info = { xp: up.xp + "/" + seg, ip: up.ip.concat([idx]), anc: [summary(parent)].concat(up.anc).slice(0, 8) };
      }
    }
    pathMemo.set(el, info);
    return info;
  }

  function textSibling(node, dir) {
    let s = node[dir];
    for (let hops = 0; s && hops < 3; hops++, s = s[dir]) {
      if (SKIP_SUBTREE.has(tagOf(s))) continue;
      const t = visText(s);
      if (t) return clip(t, 80);
    }
    return "";
  }

  // Last heading inside a subtree, memoised: siblings of many candidates are scanned repeatedly.
  const headingMemo = new Map();
  function headingIn(el) {
    let h = headingMemo.get(el);
    if (h === undefined) {
      h = "";
      if (el.matches(HEADING_SELECTOR)) h = visText(el);
      else {
        const all = el.querySelectorAll(HEADING_SELECTOR);
        if (all.length) h = visText(all[all.length - 1]);
      }
      headingMemo.set(el, h);
    }
    return h;
  }

  function nearestHeading(el) {
    let cur = el;
    for (let level = 0; level < 6 && cur; level++) {
      let s = cur.previousElementSibling;
      for (let hops = 0; s && hops < 6; hops++, s = s.previousElementSibling) {
        const h = headingIn(s);
        if (h) return clip(h, 80);
      }
      cur = cur.parentElement;
    }
    return "";
  }

  // Records are elements repeated with the same tag and class under one parent (rows, cards, list
  // items, form groups). Counted once per parent.
  const kindMemo = new Map();
  function isRecord(el) {
    const parent = el.parentElement;
    // Table cells repeat as columns, not records: the row is the record.
    if (!parent || el.localName === "td" || el.localName === "th") return false;
    let counts = kindMemo.get(parent);
    if (!counts) {
      counts = new Map();
      for (const child of parent.children) {
        const kind = child.tagName + "." + (child.getAttribute("class") || "");
        counts.set(kind, (counts.get(kind) || 0) + 1);
      }
      kindMemo.set(parent, counts);
    }
    return counts.get(el.tagName + "." + (el.getAttribute("class") || "")) > 1;
  }

  // Visible text of ``container`` outside ``el``, text nodes joined by spaces, at most CONTEXT_LENGTH.
  function textWithout(container, el) {
    const parts = [];
    let length = 0;
    const walker = document.createTreeWalker(container, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n && length < CONTEXT_LENGTH; n = walker.nextNode()) {
      const value = n.nodeValue.trim();
      const parent = n.parentElement;
      if (!value || !parent || el.contains(parent) || SKIP_SUBTREE.has(tagOf(parent)) || !shown(parent)) continue;
      parts.push(value);
      length += value.length + 1;
    }
    return clip(collapse(parts.join(" ")), CONTEXT_LENGTH);
  }

  // Text of the record around the element (its table row, card, list item, form group), without the
  // element's own text: it tells look-alikes apart, the "Edit" of Alice's row from the "Edit" of
  // Bruno's. Outside records: the first ancestor whose text says clearly more than the element.
  function recordContext(el) {
    const own = visText(el);
    let fallback = null;
    let cur = el.parentElement;
    for (let level = 0; level < 6 && cur; level++, cur = cur.parentElement) {
      const tag = tagOf(cur);
      if (tag === "body" || tag === "html") break;
      if (!fallback && visText(cur).length >= own.length + 15) fallback = cur;
      if (isRecord(cur)) {
        const context = textWithout(cur, el);
        if (context) return context;
      }
    }
    return fallback ? textWithout(fallback, el) : "";
  }

  // Neighbour texts: the control's <label>, the nearest textual previous/next siblings (of the element,
  // or of its closest ancestor that has any, up to 3 levels), the record context (above) and the
  // nearest preceding heading. Together they say "which one" among look-alikes.
  function neighborTexts(el, tag) {
    const out = [];
    const push = (t) => {
      if (t && !out.includes(t)) out.push(t);
    };
    if (LABELABLE.has(tag)) push(clip(labelsText(el), 80));
    let cur = el;
    for (let level = 0; level < 3 && cur; level++) {
      const prev = textSibling(cur, "previousElementSibling");
      const next = textSibling(cur, "nextElementSibling");
      if (prev || next) {
        push(prev);
        push(next);
        break;
      }
      cur = cur.parentElement;
      if (cur && (cur.localName === "body" || cur.localName === "html")) break;
    }
    push(recordContext(el));
    push(nearestHeading(el));
    return out;
  }

  function fingerprint(el) {
    const tag = tagOf(el);
    const attrs = {};
    let testId = "";
    let testIdAttr = "";
    for (const a of TEST_ID_ATTRS) {
      const v = el.getAttribute(a);
      if (v !== null && v !== "") {
        testId = v;
        testIdAttr = a;
        break;
      }
    }
    for (const a of el.attributes) {
      if (DEDICATED.has(a.name) || a.name === testIdAttr) continue;
      attrs[a.name] = a.value.slice(0, 200);
    }
    const explicitRole = collapse(el.getAttribute("role")).split(" ")[0];
    const role = explicitRole || implicitRole(el, tag);
    const rect = el.getBoundingClientRect();
    const path = pathInfo(el);
    const get = (n) => collapse(el.getAttribute(n));
    return {
      tag,
      id: el.getAttribute("id") || "",
      classes: Array.from(el.classList),
      name: get("name"),
      type: get("type").toLowerCase(),
      role,
      accessible_name: clip(accessibleName(el, tag, role), 200),
      text: visText(el),
      aria_label: get("aria-label"),
      placeholder: get("placeholder"),
      alt: get("alt"),
      title: get("title"),
      href: (el.getAttribute("href") || "").trim(),
      value: (el.getAttribute("value") || "").slice(0, 200),
      test_id: testId,
      test_id_attribute: testIdAttr,
      attributes: attrs,
      xpath: path.xp,
      index_path: path.ip,
      ancestors: path.anc,
      neighbor_texts: neighborTexts(el, tag),
      bbox: [
        Math.round((rect.x + window.scrollX) * 10) / 10,
        Math.round((rect.y + window.scrollY) * 10) / 10,
        Math.round(rect.width * 10) / 10,
        Math.round(rect.height * 10) / 10,
      ],
      visible: isVisible(el, rect),
      enabled: isEnabled(el, tag),
      url: String(document.URL).split(/[?#]/)[0],
    };
  }

  // Compact transfer: one JSON string of positional rows with every string interned. Playwright
  // moves one string far faster than thousands of nested objects, and pages repeat strings a lot
  // (ancestors, neighbour texts, classes). capture.py unpacks it (FIELDS there mirrors this order).
  function pack(records) {
    const strings = [];
    const index = new Map();
    const S = (s) => {
      let i = index.get(s);
      if (i === undefined) {
        i = strings.length;
        strings.push(s);
        index.set(s, i);
      }
      return i;
    };
    const rows = records.map((r) => {
      const cut = r.xpath.lastIndexOf("/");
      const attrs = [];
      for (const k in r.attributes) attrs.push(S(k), S(r.attributes[k]));
      return [
        S(r.tag), S(r.id), r.classes.map(S), S(r.name), S(r.type), S(r.role), S(r.accessible_name), S(r.text),
        S(r.aria_label), S(r.placeholder), S(r.alt), S(r.title), S(r.href), S(r.value), S(r.test_id), attrs,
        S(r.xpath.slice(0, cut)), S(r.xpath.slice(cut + 1)), r.index_path, r.ancestors.map(S),
        r.neighbor_texts.map(S), r.bbox, r.visible ? 1 : 0, r.enabled ? 1 : 0, S(r.test_id_attribute),
      ];
    });
    return JSON.stringify({ url: String(document.URL).split(/[?#]/)[0], strings, rows });
  }

  function isCandidate(el, tag) {
    if (TARGET_TAGS.has(tag)) return !(tag === "input" && (el.getAttribute("type") || "").toLowerCase() === "hidden");
    for (const a of TARGET_ATTRS) if (el.hasAttribute(a)) return true;
    if (tag === "svg") return false;
    return hasOwnText(el);
  }

  function collect(limit) {
    const out = [];
    const root = document.documentElement;
    if (!root) return out;
    const stack = [root];
    while (stack.length && out.length < limit) {
      const el = stack.pop();
      const tag = tagOf(el);
      if (SKIP_SUBTREE.has(tag)) continue;
      if (el !== root && tag !== "body" && isCandidate(el, tag)) out.push(el);
      if (tag === "svg") continue; // icon internals are never targets; the svg or its button is
      const kids = el.children;
      for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i]);
      // Open shadow roots render in place of light children: visit them first.
      const shadow = el.shadowRoot;
      if (shadow) for (let i = shadow.children.length - 1; i >= 0; i--) stack.push(shadow.children[i]);
    }
    return out;
  }

  return {
    one(target) {
      return fingerprint(target);
    },
    candidates(options) {
      const els = collect(options.limit);
      Object.defineProperty(window, REGISTRY, {
        value: { token: options.token, els },
        configurable: true,
        writable: true,
        enumerable: false,
      });
      return pack(els.map((el) => fingerprint(el)));
    },
    lookup(options) {
      const reg = window[REGISTRY];
      if (!reg || reg.token !== options.token) return null;
      const el = reg.els[options.index];
      return el && el.isConnected ? el : null;
    },
  };
})();
