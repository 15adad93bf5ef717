"""HTTP transports (streamable HTTP and the older SSE) with the safety rules for binding.

- Bound to loopback (the default, 127.0.0.1), DNS-rebinding protection accepts only local Host and
  Origin headers.
- Bound to anything else, a bearer token (``HEALING_HTTP_TOKEN``) is required and every request must
  carry ``Authorization: Bearer <token>``; allowed hosts are the bind address plus
  ``HEALING_HTTP_ALLOWED_HOSTS``, allowed browser origins are ``HEALING_HTTP_ALLOWED_ORIGINS`` only.
- ``--stateless`` (streamable HTTP) keeps no session in memory, so several replicas can serve one store
  behind a load balancer.

``GET /healthz`` answers ``{"status": "ok"}`` for load balancers (behind the same token check).
"""

from __future__ import annotations

import hmac
import ipaddress
import socket
from typing import Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from healing_mcp.config import ConfigError, Settings
from healing_mcp.logs import get_logger

Transport = Literal["sse", "streamable-http"]
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
log = get_logger(__name__)


def is_loopback(host: str) -> bool:
    if host in _LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class BearerAuth:
    """ASGI middleware: reject any HTTP request without the right bearer token (constant-time check)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            supplied = dict(scope.get("headers", [])).get(b"authorization", b"")
            if not hmac.compare_digest(supplied, self._expected):
                response = JSONResponse(
                    {"error": "unauthorized", "detail": "send 'Authorization: Bearer <HEALING_HTTP_TOKEN>'"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class RejectedConnectQuiet:
    """ASGI middleware for the SSE app: after the SDK has answered a refused SSE connect (bad Host or
    Origin header: 421/403), it still raises ``ValueError``, which the HTTP server would log as an
    unhandled exception with a traceback on every rebinding probe. Swallow exactly that case."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status: list[int] = []

        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ValueError as exc:
            if scope["type"] != "http" or not status or status[0] < 400 or str(exc) != "Request validation failed":
                raise
            log.info("refused SSE connection", status=status[0], path=scope.get("path"))


def transport_security(settings: Settings, host: str) -> TransportSecuritySettings:
    if is_loopback(host):
        hosts = ["127.0.0.1", "127.0.0.1:*", "localhost", "localhost:*", "[::1]", "[::1]:*"]
        origins = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
    else:
        bind = [] if host in ("0.0.0.0", "::") else [host, f"{host}:*"]  # noqa: S104 - the check itself
        hosts = bind + [h for extra in settings.http_allowed_hosts for h in (extra, f"{extra}:*")]
        origins = []
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=origins + settings.http_allowed_origins,
    )


def build_http_app(
    server: MCPServer[Any], settings: Settings, *, transport: Transport, host: str, stateless: bool = False
) -> ASGIApp:
    token = settings.http_token.get_secret_value() if settings.http_token else None
    if not is_loopback(host):
        if not token:
            raise ConfigError(
                # No "token: set" here: the redaction of error text would take "set" for a secret.
                f"refusing to serve HTTP on {host} without a bearer token. Set HEALING_HTTP_TOKEN "
                "(and HEALING_HTTP_ALLOWED_HOSTS for the names clients use), or bind 127.0.0.1"
            )
        if host in ("0.0.0.0", "::") and not settings.http_allowed_hosts:  # noqa: S104 - the check itself
            raise ConfigError(
                f"binding {host} accepts any Host header; set HEALING_HTTP_ALLOWED_HOSTS to the host names "
                "clients use (comma-separated)"
            )

    @server.custom_route("/healthz", methods=["GET"])  # type: ignore[untyped-decorator]  # untyped upstream
    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    security = transport_security(settings, host)
    app: ASGIApp
    if transport == "sse":
        app = RejectedConnectQuiet(server.sse_app(transport_security=security, host=host))
    else:
        app = server.streamable_http_app(transport_security=security, host=host, stateless_http=stateless)
    return BearerAuth(app, token) if token else app


async def serve_http(
    server: MCPServer[Any],
    settings: Settings,
    *,
    transport: Transport,
    host: str,
    port: int,
    stateless: bool = False,
) -> None:
    import uvicorn

    app = build_http_app(server, settings, transport=transport, host=host, stateless=stateless)
    # No logging config of uvicorn's own: its default sends the access log to stdout and bypasses
    # redaction. Its loggers propagate to ours instead (healing_mcp.logs); the access log, which carries
    # query strings, only at debug level.
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=settings.log_level,
        log_config=None,
        access_log=settings.log_level == "debug",
        lifespan="on",
    )
    sock = listen_socket(host, port, backlog=config.backlog)
    try:
        await uvicorn.Server(config).serve(sockets=[sock])
    finally:
        sock.close()


def listen_socket(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """Bind the listening socket up front, so a busy port or an address this machine does not have is
    a one-line :class:`ConfigError` (exit status 2) rather than a log line from the HTTP server."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)  # claim the port now: two servers racing for it cannot both bind
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}. Choose another --port or --host, "
            "or stop the process that holds it."
        ) from exc
    sock.set_inheritable(True)
    return sock
