"""The fingerprint store: keys, upserts, history counts and writers in several processes."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from healing_mcp.components.browser.fingerprint import ElementFingerprint
from healing_mcp.components.browser.fingerprint_store import FingerprintStore, page_key


def test_page_key_drops_query_and_fragment() -> None:
    assert page_key("https://shop.example/orders?id=7#top") == "https://shop.example/orders"
    assert page_key("https://shop.example") == "https://shop.example/"
    assert page_key("about:blank") == "about:blank"


def test_put_get_and_history(tmp_path: Path) -> None:
    with FingerprintStore(tmp_path / "fp.db") as store:
        assert store.get("https://a.example/x", "#buy") is None
        first = store.put("https://a.example/x?session=1", "#buy", ElementFingerprint(tag="button", text="Buy"))
        assert first.seen_count == 1
        second = store.put("https://a.example/x?session=2", "#buy", ElementFingerprint(tag="button", text="Buy!"))
        assert second.seen_count == 2
        assert second.first_seen == first.first_seen
        assert second.last_seen >= first.last_seen
        got = store.get("https://a.example/x", "#buy")
        assert got is not None
        assert got.fingerprint.text == "Buy!"
        assert store.get("https://a.example/other", "#buy") is None
        store.put("https://b.example/", "#buy", ElementFingerprint(tag="a"))
        assert [r.page_key for r in store.for_selector("#buy")] == ["https://b.example/", "https://a.example/x"]
        assert [r.selector for r in store.for_page("https://a.example/x")] == ["#buy"]
        assert store.delete("https://b.example/", "#buy")
        assert store.count() == 1


def _writer(path: str, worker: int, rounds: int) -> None:
    store = FingerprintStore(path)
    for i in range(rounds):
        store.put("https://a.example/", "#shared", ElementFingerprint(tag="button", text=f"{worker}-{i}"))
        store.put("https://a.example/", f"#own-{worker}", ElementFingerprint(tag="input"))
    store.close()


def test_concurrent_processes_do_not_lose_writes(tmp_path: Path) -> None:
    path = str(tmp_path / "fp.db")
    FingerprintStore(path).count()  # create the schema once, as the first agent would
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_writer, args=(path, n, 40)) for n in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    with FingerprintStore(path) as store:
        shared = store.get("https://a.example/", "#shared")
        assert shared is not None
        assert shared.seen_count == 80
        assert store.count() == 3
