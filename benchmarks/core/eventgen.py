"""Synthetic but realistic failure events, with ground truth.

Events look like what the watched systems write: a browser agent (Playwright errors), MCP tool servers,
a Supabase/PostgREST backend and a media render pipeline. Every event comes from a *template*: fixed
component, kind and target, and a message skeleton whose variable slots are filled with request ids,
uuids, urls with ids in the path and query, timestamps, durations, counts, ip:port pairs, hashes,
emails and quoted values. Two events of the same template should be one issue; events of different
templates should never be. The generator records each event's template so grouping can be scored.

Template popularity follows a Zipf-like law (a few failures dominate a log, many are rare). A small share
of lines is malformed: cut-off JSON, plain text, JSON that is not an event.
"""

from __future__ import annotations

import json
import random
import string
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# ---------------------------------------------------------------------------------- slot fillers

Filler = Callable[[random.Random], str]


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _hex(n: int) -> Filler:
    return lambda rng: f"{rng.getrandbits(4 * n):0{n}x}"


def _int(lo: int, hi: int) -> Filler:
    return lambda rng: str(rng.randint(lo, hi))


def _float(lo: float, hi: float, digits: int = 2) -> Filler:
    return lambda rng: f"{rng.uniform(lo, hi):.{digits}f}"


def _timestamp(rng: random.Random) -> str:
    moment = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(seconds=rng.uniform(0, 30 * 86400))
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _clock(rng: random.Random) -> str:
    return f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.{rng.randint(0, 999):03d}"


def _ip(rng: random.Random) -> str:
    return f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def _ip_port(rng: random.Random) -> str:
    return f"{_ip(rng)}:{rng.choice([5432, 6543, 6379, 8080, 443, rng.randint(30000, 65000)])}"


def _word(rng: random.Random, lo: int = 4, hi: int = 9) -> str:
    return "".join(rng.choices(string.ascii_lowercase, k=rng.randint(lo, hi)))


def _email(rng: random.Random) -> str:
    return f"{_word(rng)}.{_word(rng)}@{rng.choice(['example.com', 'acme.io', 'mail.test'])}"


def _order_url(rng: random.Random) -> str:
    return f"https://shop.example.com/orders/{rng.randint(1000, 999999)}?page={rng.randint(1, 40)}"


def _api_url(rng: random.Random) -> str:
    return (
        f"https://api.example.com/v2/customers/{_uuid(rng)}/invoices/{rng.randint(1, 99999)}"
        f"?expand=lines&ts={rng.randint(1_700_000_000, 1_800_000_000)}"
    )


def _asset_url(rng: random.Random) -> str:
    name = rng.choice(["logo", "intro", "font", "frame"])
    return f"https://cdn.example.net/assets/{_hex(12)(rng)}/{name}-{rng.randint(1, 9999)}.png"


def _quoted(rng: random.Random) -> str:
    return f"'{_word(rng)}-{rng.randint(1, 999)}'"


def _token(rng: random.Random) -> str:
    return _hex(32)(rng)


FILLERS: dict[str, Filler] = {
    "uuid": _uuid,
    "trace": _hex(32),
    "sha": _hex(40),
    "ms": _int(1, 120_000),
    "n": _int(1, 5000),
    "attempt": _int(1, 9),
    "secs": _float(0.1, 90.0),
    "ts": _timestamp,
    "clock": _clock,
    "ip": _ip,
    "ipport": _ip_port,
    "email": _email,
    "order_url": _order_url,
    "api_url": _api_url,
    "asset_url": _asset_url,
    "quoted": _quoted,
    "token": _token,
    "pid": _int(100, 99999),
    "frame": _int(0, 20000),
    "bytes": _int(1024, 50_000_000),
}

# ---------------------------------------------------------------------------------- skeletons

# (component, kind, message skeleton, targets). Each (skeleton, target) pair is one template.
# Slots are {name} with a name from FILLERS. Targets are structure (a selector, a tool, a table).
_SKELETONS: list[tuple[str, str, str, list[str]]] = [
    # browser agents (Playwright-style errors)
    (
        "browser",
        "selector_not_found",
        "TimeoutError: locator.click: Timeout {ms}ms exceeded. waiting for locator to be visible "
        "(request {uuid}, page {order_url})",
        [
            "#checkout-button",
            "button[data-test=buy]",
            "#cart > .item:nth-child(2)",
            "text=Place order",
            "input[name=email]",
            "#login-submit",
            ".cookie-banner .accept",
            "a.nav-pricing",
        ],
    ),
    (
        "browser",
        "selector_not_found",
        "strict mode violation: locator resolved to {n} elements on {order_url} at {ts}",
        ["button.add-to-cart", "div.modal .close", "li.result a"],
    ),
    (
        "browser",
        "navigation_timeout",
        "page.goto: Timeout {ms}ms exceeded navigating to {order_url}; trace {trace}",
        ["checkout", "login", "search", "product-page"],
    ),
    (
        "browser",
        "navigation_failed",
        "net::ERR_CONNECTION_RESET at {api_url} after {secs}s (attempt {attempt})",
        ["checkout", "billing"],
    ),
    (
        "browser",
        "element_not_interactable",
        "element is not enabled: retrying click action, attempt #{attempt}, waiting {ms}ms; frame {frame}",
        ["#pay-now", "button[type=submit]", "#accept-terms", "select#country"],
    ),
    (
        "browser",
        "page_crash",
        "Target page, context or browser has been closed (pid {pid}) while running step {n} at {clock}",
        ["worker-chromium", "worker-firefox"],
    ),
    (
        "browser",
        "assertion_failed",
        "expect(locator).toHaveText: expected {quoted} but received {quoted} after {ms}ms",
        ["h1.order-confirmation", "#total-price", ".toast-message"],
    ),
    (
        "browser",
        "download_failed",
        "download of {asset_url} failed: {bytes} bytes received, checksum {sha} mismatch",
        ["invoice-pdf", "report-csv"],
    ),
    # MCP tool servers
    (
        "mcp_tools",
        "tool_timeout",
        "tool call timed out after {secs}s (request_id={uuid}, session {trace})",
        [
            "search_docs",
            "create_ticket",
            "github.create_issue",
            "slack_post_message",
            "fetch_url",
            "run_sql",
            "send_email",
        ],
    ),
    (
        "mcp_tools",
        "tool_error",
        "McpError: -32603 Internal error: upstream returned HTTP 502 for {api_url} (attempt {attempt})",
        ["search_docs", "fetch_url", "crm.lookup_contact", "weather.forecast"],
    ),
    (
        "mcp_tools",
        "tool_error",
        "McpError: -32602 Invalid params: field 'limit' must be <= 100, got {n} (call {uuid})",
        ["search_docs", "list_orders", "query_logs"],
    ),
    (
        "mcp_tools",
        "schema_mismatch",
        "structured output failed validation: $.items[{n}].price is not of type number (tool version {sha})",
        ["list_orders", "get_invoice", "catalog.search"],
    ),
    (
        "mcp_tools",
        "connection_refused",
        "connect ECONNREFUSED {ipport} while starting stdio server, exit code {attempt} after {ms}ms",
        ["filesystem", "postgres-mcp", "browserbase"],
    ),
    (
        "mcp_tools",
        "rate_limited",
        "429 Too Many Requests from {api_url}; retry after {n}s (quota key {token})",
        ["github.search_code", "openai.embeddings", "maps.geocode"],
    ),
    (
        "mcp_tools",
        "auth_expired",
        "OAuth token for {email} expired at {ts}; refresh failed with status 401",
        ["google_drive", "notion", "linear"],
    ),
    (
        "mcp_tools",
        "tool_not_found",
        "Unknown tool {quoted} requested by client session {uuid}",
        ["gateway"],
    ),
    # Supabase / PostgREST
    (
        "supabase",
        "rls_violation",
        'new row violates row-level security policy for table "orders" (code 42501, request {uuid})',
        ["public.orders"],
    ),
    (
        "supabase",
        "rls_violation",
        'new row violates row-level security policy for table "profiles" (code 42501, request {uuid})',
        ["public.profiles"],
    ),
    (
        "supabase",
        "permission_denied",
        "permission denied for table {quoted} (code 42501) for role authenticated, user {uuid}",
        ["public.invoices", "public.audit_events", "storage.objects"],
    ),
    (
        "supabase",
        "missing_table",
        "PGRST205 Could not find the table {quoted} in the schema cache (hint: {quoted}) at {ts}",
        ["public.subscriptions", "public.team_members", "public.webhooks"],
    ),
    (
        "supabase",
        "unknown_column",
        "PGRST204 Could not find the {quoted} column of {quoted} in the schema cache; row {n}",
        ["public.orders.discount_code", "public.profiles.avatar_url", "public.events.payload"],
    ),
    (
        "supabase",
        "unique_violation",
        "duplicate key value violates unique constraint {quoted} (code 23505), Key (email)=({email}) exists",
        ["public.users", "public.newsletter_signups"],
    ),
    (
        "supabase",
        "fk_violation",
        "insert or update violates foreign key constraint {quoted} (code 23503): key (order_id)=({n}) missing",
        ["public.order_items", "public.payments"],
    ),
    (
        "supabase",
        "connection_pool_exhausted",
        "remaining connection slots are reserved for roles with SUPERUSER; pool {ipport} used {n}/{n}",
        ["pooler", "direct"],
    ),
    (
        "supabase",
        "statement_timeout",
        "canceling statement due to statement timeout after {ms}ms (query {sha}, pid {pid})",
        ["public.search_products", "public.monthly_report", "rpc/refresh_stats"],
    ),
    (
        "supabase",
        "http_5xx",
        "PostgREST responded 503 PGRST002 schema cache unavailable for {api_url} trace {trace}",
        ["rest/v1"],
    ),
    (
        "supabase",
        "storage_error",
        "Storage upload of {asset_url} failed: object exceeds {bytes} bytes limit (bucket {quoted})",
        ["storage.avatars", "storage.renders"],
    ),
    # media render pipeline
    (
        "render",
        "render_failed",
        "ffmpeg exited with code {attempt}: Error while decoding stream #0:1 at frame {frame} (job {uuid})",
        ["video-encoder", "thumbnailer", "gif-maker"],
    ),
    (
        "render",
        "render_failed",
        "Remotion render of composition {quoted} failed at frame {frame}/{frame}: timeout {ms}ms on {ip}",
        ["promo-30s", "story-vertical", "ad-square"],
    ),
    (
        "render",
        "asset_missing",
        "asset {asset_url} returned 404 after {ms}ms (job {uuid}, revision {sha})",
        ["fonts", "brand-logo", "music-bed", "stock-footage"],
    ),
    (
        "render",
        "out_of_memory",
        "worker {pid} killed: out of memory ({bytes} bytes resident) while compositing {n} layers at {clock}",
        ["gpu-pool-a", "cpu-pool"],
    ),
    (
        "render",
        "upload_failed",
        "upload to {api_url} failed with status 500 after {secs}s; multipart id {token}",
        ["youtube", "s3-archive", "tiktok"],
    ),
    (
        "render",
        "queue_backlog",
        "render queue depth {n} exceeds threshold for {secs}s (oldest job {uuid} enqueued {ts})",
        ["priority", "batch"],
    ),
    # a custom service reporting through the same log format
    (
        "payments",
        "webhook_failed",
        "webhook delivery {uuid} to {api_url} failed: HTTP 500 in {ms}ms (attempt {attempt} of 5)",
        ["stripe.invoice.paid", "stripe.charge.refunded", "paddle.subscription.updated"],
    ),
    (
        "payments",
        "card_declined_spike",
        "{n} declines in the last {n}s for merchant {token}, last at {ts}",
        ["eu-checkout", "us-checkout"],
    ),
    (
        "payments",
        "idempotency_conflict",
        "Idempotency key {uuid} reused with a different body by {email} from {ip}",
        ["charges.create", "refunds.create"],
    ),
]

_SEVERITIES = ["warning", "error", "error", "error", "critical"]
_KEYS_TIME = ("time", "time", "time", "timestamp", "ts")
_KEYS_KIND = ("kind", "kind", "kind", "symptom")
_KEYS_MESSAGE = ("message", "message", "message", "msg", "error")


@dataclass(frozen=True)
class Template:
    id: int
    component: str
    kind: str
    target: str
    skeleton: str
    severity: str | None

    def render(self, rng: random.Random) -> str:
        return _render(self.skeleton, rng)


def _render(skeleton: str, rng: random.Random) -> str:
    out = []
    rest = skeleton
    while (start := rest.find("{")) != -1:
        end = rest.index("}", start)
        out.append(rest[:start])
        out.append(FILLERS[rest[start + 1 : end]](rng))
        rest = rest[end + 1 :]
    out.append(rest)
    return "".join(out)


def templates(variants: int = 3, seed: int = 7) -> list[Template]:
    """Every (skeleton, target) pair, each in ``variants`` wordings: several hundred distinct templates.

    A variant appends a fixed, template-specific detail (a stage name, an error class), the way the same
    code path reports from different call sites. Variants differ only in constant text, so they are
    different failures a good grouping keeps apart.
    """
    rng = random.Random(seed)
    stages = ["during retry", "in background job", "in request handler", "in scheduled sync", "on startup"]
    out: list[Template] = []
    for component, kind, skeleton, targets in _SKELETONS:
        for target in targets:
            picked = rng.sample(stages, k=min(variants, len(stages)))
            for stage in picked:
                out.append(
                    Template(
                        id=len(out),
                        component=component,
                        kind=kind,
                        target=target,
                        skeleton=f"{skeleton} [{stage}]",
                        severity=rng.choice([None, None, *_SEVERITIES]),
                    )
                )
    return out


@dataclass
class GeneratedLine:
    line: str
    template: int | None  # None for a malformed line
    component: str = ""
    kind: str = ""
    target: str = ""
    message: str = ""


def generate(
    count: int,
    *,
    seed: int = 42,
    malformed_share: float = 0.003,
    start: datetime | None = None,
    span: timedelta = timedelta(hours=1),
    variants: int = 3,
) -> Iterator[GeneratedLine]:
    """``count`` JSONL lines (without the newline), in time order, with their ground-truth template."""
    rng = random.Random(seed)
    pool = templates(variants)
    weights = [1.0 / (rank + 1) ** 0.9 for rank in range(len(pool))]
    order = list(range(len(pool)))
    rng.shuffle(order)  # popularity is not tied to the declaration order
    chosen = rng.choices(order, weights=weights, k=count)
    begin = start or datetime.now(UTC) - span
    step = span / max(count, 1)
    for i, template_id in enumerate(chosen):
        if rng.random() < malformed_share:
            yield GeneratedLine(_malformed(rng, pool[template_id]), None)
            continue
        template = pool[template_id]
        message = template.render(rng)
        moment = begin + step * i
        event: dict[str, object] = {
            rng.choice(_KEYS_TIME): moment.isoformat(timespec="microseconds"),
            "component": template.component,
            rng.choice(_KEYS_KIND): template.kind,
            "target": template.target,
            rng.choice(_KEYS_MESSAGE): message,
            "attributes": {"request_id": _uuid(rng), "host": f"{template.component}-{rng.randint(1, 6)}"},
        }
        if template.severity is not None:
            event["severity"] = template.severity
        if rng.random() < 0.1:
            event["attributes"] = {**event["attributes"], "duration_ms": rng.randint(1, 60000)}  # type: ignore[dict-item]
        yield GeneratedLine(
            json.dumps(event, separators=(",", ":")),
            template.id,
            template.component,
            template.kind,
            template.target,
            message,
        )


def _malformed(rng: random.Random, template: Template) -> str:
    kind = rng.randrange(4)
    if kind == 0:  # a writer cut off mid-line (the rest never came)
        full = json.dumps({"time": _timestamp(rng), "component": template.component, "kind": template.kind})
        return full[: rng.randint(5, len(full) - 2)]
    if kind == 1:  # a plain-text log line in the JSONL file
        return f"{_timestamp(rng)} ERROR {template.component}: {template.render(rng)}"
    if kind == 2:  # valid JSON, but not an event (no component)
        return json.dumps({"time": _timestamp(rng), "kind": template.kind, "message": template.render(rng)})
    return json.dumps({"component": "", "kind": template.kind})  # empty component: not an event
