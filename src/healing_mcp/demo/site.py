"""The demo site: a tiny shop back office served on 127.0.0.1, in two versions.

Version 2 is what a redesign does to an agent: ids and classes renamed, wrappers inserted, a label
reworded, elements reordered, and look-alikes added next to the real ones (a "Log in with SSO" button, an
"Archived reports" link). Every request is recorded, so the demo can show that fix attempts and retests
never wrote anything.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_STYLE = "<style>body{font-family:sans-serif;margin:2em} nav a{margin-right:1em}</style>"

PAGES: dict[int, dict[str, str]] = {
    1: {
        "/login": """<!doctype html><html><head><title>Sign in - Demo Shop</title>{style}</head><body>
<h1>Demo Shop back office</h1>
<form id="login-form" method="post" action="/login">
  <label for="email">Email</label> <input id="email" name="email" type="email"><br>
  <label for="password">Password</label> <input id="password" name="password" type="password"><br>
  <input id="remember" name="remember" type="checkbox"> <label for="remember">Keep me signed in</label><br>
  <button id="signin-btn" class="btn btn-primary" type="submit">Sign in</button>
</form>
<p><a href="/help">Need help?</a></p>
</body></html>""",
        "/dashboard": """<!doctype html><html><head><title>Dashboard - Demo Shop</title>{style}</head><body>
<nav><a id="nav-orders" href="/orders">Orders</a><a id="nav-reports" class="nav-link" href="/reports">Reports</a>
<a id="nav-settings" href="/settings">Settings</a></nav>
<h1>Dashboard</h1><p>12 orders today.</p>
</body></html>""",
    },
    2: {
        "/login": """<!doctype html><html><head><title>Log in - Demo Shop</title>{style}</head><body>
<header><h1>Demo Shop back office</h1></header>
<main class="auth-card">
  <button class="button button--ghost" type="button" data-provider="sso">Log in with SSO</button>
  <form class="auth-form" method="post" action="/login">
    <div class="field"><label for="login-email">Email address</label>
      <input id="login-email" class="input" name="email" type="email" placeholder="you@example.com"></div>
    <div class="field"><label for="password">Password</label>
      <input id="password" class="input" name="password" type="password"></div>
    <div class="field field--inline"><input id="keep-signed-in" class="checkbox" name="remember" type="checkbox">
      <label for="keep-signed-in">Keep me signed in</label></div>
    <div class="actions"><a href="/forgot">Forgot password?</a>
      <button id="login-submit" class="button button--primary" type="submit">Log in</button></div>
  </form>
</main>
</body></html>""",
        "/dashboard": """<!doctype html><html><head><title>Dashboard - Demo Shop</title>{style}</head><body>
<nav><ul class="menu"><li><a id="menu-reports" class="menu__link" href="/reports">Reports</a></li>
<li><a id="menu-orders" class="menu__link" href="/orders">Orders</a></li>
<li><a id="menu-settings" class="menu__link" href="/settings">Settings</a></li></ul></nav>
<h1>Dashboard</h1><p>12 orders today.</p>
<section class="card"><h2>Last quarter</h2><a class="card__link" href="/reports/archive">Archived reports</a></section>
</body></html>""",
    },
}
_COMMON = {
    "/reports": "<!doctype html><html><head><title>Reports</title>{style}</head><body><h1>Reports</h1></body></html>",
}


class DemoSite:
    """Serves version 1 until :attr:`version` is set to 2. Records (method, path) of every request."""

    def __init__(self) -> None:
        self.version = 1
        self.requests: list[tuple[str, str]] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, body: str = "", headers: dict[str, str] | None = None) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                site.requests.append(("GET", path))
                page = PAGES[site.version].get(path) or _COMMON.get(path)
                if page is None:
                    self._send(404, "<h1>Not found</h1>")
                else:
                    self._send(200, page.replace("{style}", _STYLE))

            def do_POST(self) -> None:
                site.requests.append(("POST", self.path))
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                self._send(303, "", {"location": "/dashboard"})

            def log_message(self, *args: Any) -> None:
                pass  # the demo prints its own story

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> DemoSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def writes(self) -> int:
        return sum(1 for method, _ in self.requests if method != "GET")
