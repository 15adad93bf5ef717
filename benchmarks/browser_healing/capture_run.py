"""Browser phase of the benchmark: load every page version in Chromium and capture fingerprints.

For each page's version 1: the target fingerprint of every case (``capture_fingerprint``), the
agent's original selector (first of the case's options that selects the target alone) and the
codegen-style selector (``build_selector``). For each case's version 2: all candidates
(``capture_candidates``, timed), what the two v1 selectors select there, and the time the healer's
last step takes for the target (``candidate_handle`` + ``build_selector``, the resilient selector a
right heal hands back), so that the benchmark can add capture, matching and selector into an
end-to-end heal time.

Chromium is launched the way the product launches it (``launcher.launch_browser``, which picks the
browser with ``find_chromium``: ``HEALING_CHROMIUM``, Playwright's own build, or a system Chrome).

The benchmark key attribute is removed from every fingerprint here, before anything is stored, so no
matcher can see it. Results are cached under ``benchmarks/.cache/`` keyed by the corpus digest and the
capture code, so reruns skip the browser.
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import json
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from benchmarks.browser_healing.corpus import Corpus
from benchmarks.browser_healing.dom import BENCH_ATTR
from healing_mcp.components.browser import capture as capture_module
from healing_mcp.components.browser import selectors as selectors_module
from healing_mcp.components.browser.capture import candidate_handle, capture_candidates, capture_fingerprint
from healing_mcp.components.browser.fingerprint import ElementFingerprint
from healing_mcp.components.browser.launcher import launch_browser
from healing_mcp.components.browser.selectors import build_selector

CACHE_DIR = Path(__file__).resolve().parents[1] / ".cache"
_KEYS_JS = f"(els) => els.map((e) => e.getAttribute({json.dumps(BENCH_ATTR)}))"


@dataclass
class SelectorOutcome:
    """What a v1 selector selects on v2: how many elements, and the key of the first."""

    count: int
    key: str | None


def _strip(fp: ElementFingerprint) -> tuple[ElementFingerprint, str | None]:
    key = fp.attributes.pop(BENCH_ATTR, None)
    return fp, key


def _dump(fp: ElementFingerprint) -> dict[str, Any]:
    return fp.model_dump(exclude_defaults=True)


class _Server:
    """Serves the corpus documents on 127.0.0.1 from memory."""

    def __init__(self) -> None:
        self.docs: dict[str, bytes] = {}
        docs = self.docs

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                body = docs.get(self.path.split("?", 1)[0])
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def publish(self, base: str, documents: dict[str, str]) -> str:
        for name, html in documents.items():
            self.docs[f"/{base}/{name}"] = html.encode()
        return f"http://127.0.0.1:{self.port}/{base}/index.html"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _without_docs(path: Path) -> bytes:
    """A module's syntax tree without docstrings: editing documentation keeps the captures."""
    tree = ast.parse(path.read_text("utf-8"))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                node.body = body[1:] or [ast.Pass()]  # type: ignore[attr-defined]
    return ast.dump(tree).encode()


def code_digest() -> str:
    """Digest of the capture code (capture.py, selectors.py, capture.js and this module): a change of
    code there invalidates cached captures."""
    h = hashlib.sha256()
    for path in (Path(str(capture_module.__file__)), Path(str(selectors_module.__file__)), Path(__file__)):
        h.update(_without_docs(path))
    h.update((Path(str(capture_module.__file__)).parent / "capture.js").read_bytes())
    return h.hexdigest()[:12]


async def _outcome(page: Any, selector: str | None) -> SelectorOutcome:
    if not selector:
        return SelectorOutcome(0, None)
    try:
        keys = await page.locator(selector).evaluate_all(_KEYS_JS)
    except Exception:  # an invalid selector selects nothing
        return SelectorOutcome(0, None)
    return SelectorOutcome(len(keys), keys[0] if len(keys) == 1 else None)


async def capture_corpus(corpus: Corpus, log: Any = print) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    server = _Server()
    out: dict[str, Any] = {"cases": {}, "v1_capture_ms": {}}
    try:
        async with async_playwright() as pw:
            browser = await launch_browser(pw)
            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            page = await context.new_page()
            by_page: dict[str, list[Any]] = {}
            for case in corpus.cases:
                by_page.setdefault(case.page, []).append(case)
            v1: dict[str, dict[str, Any]] = {}
            for page_name, version in corpus.v1.items():
                await page.goto(server.publish(f"v1/{page_name}", version.documents), wait_until="load")
                for case in by_page.get(page_name, []):
                    if case.target_key in v1.get(page_name, {}):
                        continue
                    locator = page.locator(f'{case.frame_prefix}[{BENCH_ATTR}="{case.target_key}"]')
                    handle = await locator.element_handle(timeout=5000)
                    if handle is None:
                        raise RuntimeError(f"target {case.target_key} not found on v1 of {page_name}")
                    fp = await capture_fingerprint(handle)
                    original = None
                    for option in case.selector_options:
                        got = await _outcome(page, option)
                        if got.count == 1 and got.key == case.target_key:
                            original = option
                            break
                    started = time.perf_counter()
                    choice = await build_selector(page, handle, fp)
                    codegen_ms = (time.perf_counter() - started) * 1000
                    v1.setdefault(page_name, {})[case.target_key] = {
                        "fingerprint": _dump(_strip(fp)[0]),
                        "original_selector": original,
                        "codegen_selector": choice.selector if choice.unique else None,
                        "codegen_strategy": choice.strategy,
                        "codegen_ms": codegen_ms,
                    }
                started = time.perf_counter()
                await capture_candidates(page)
                out["v1_capture_ms"][page_name] = (time.perf_counter() - started) * 1000
            for n, case in enumerate(corpus.cases):
                await page.goto(server.publish(f"v2/{case.case_id}", case.v2.documents), wait_until="load")
                started = time.perf_counter()
                candidates = await capture_candidates(page)
                capture_ms = (time.perf_counter() - started) * 1000
                fps = []
                expected = None
                for i, candidate in enumerate(candidates):
                    fp, key = _strip(candidate.fingerprint)
                    if key == case.target_key:
                        expected = i
                    fps.append(_dump(fp))
                selector_ms = None
                if expected is not None:
                    started = time.perf_counter()
                    target = await candidate_handle(page, candidates[expected])
                    await build_selector(page, target, candidates[expected].fingerprint)
                    selector_ms = (time.perf_counter() - started) * 1000
                ref = v1[case.page][case.target_key]
                out["cases"][case.case_id] = {
                    **ref,
                    "candidates": fps,
                    "expected": expected,
                    "capture_ms": capture_ms,
                    "selector_ms": selector_ms,
                    "original_v2": (await _outcome(page, ref["original_selector"])).__dict__,
                    "codegen_v2": (await _outcome(page, ref["codegen_selector"])).__dict__,
                }
                if n % 25 == 0:
                    log(f"captured {n + 1}/{len(corpus.cases)} cases")
            await browser.close()
    finally:
        server.close()
    return out


def load_or_capture(corpus: Corpus, *, refresh: bool = False) -> dict[str, Any]:
    """Captured data of every set of ``corpus``; each set is cached on its own (by its digest and the
    capture code's), so adding a set does not capture the others again."""
    import asyncio

    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    merged: dict[str, Any] = {"cases": {}, "v1_capture_ms": {}, "from_cache": True}
    for name in corpus.splits():
        part = corpus.split(name)
        path = CACHE_DIR / f"browser_healing-{name}-{part.digest()}-{code_digest()}.json.gz"
        if path.exists() and not refresh:
            with gzip.open(path, "rt", encoding="utf-8") as f:
                data: dict[str, Any] = json.load(f)
        else:
            data = asyncio.run(capture_corpus(part, log=lambda m, n=name: print(f"{n}: {m}", file=sys.stderr)))
            with gzip.open(path, "wt", encoding="utf-8") as f:
                json.dump(data, f)
            merged["from_cache"] = False
        merged["cases"].update(data["cases"])
        merged["v1_capture_ms"].update(data["v1_capture_ms"])
    return merged
