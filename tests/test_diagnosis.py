"""Root cause: rules, memory, and Claude through a loopback server that speaks the Messages API."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from healing_mcp.components.base import Component
from healing_mcp.components.registry import Registry
from healing_mcp.config import Settings
from healing_mcp.core.diagnosis import parse_llm_answer
from healing_mcp.core.engine import Engine
from healing_mcp.models import FailureReport


class MessagesAPI:
    """Answers POST /v1/messages like the Anthropic API does, recording each request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.answer = {
            "causes": ["the upstream API changed its response"],
            "fixes": ["pin the API version"],
            "confidence": 0.7,
        }
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                api.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if api.status != 200:
                    payload = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
                else:
                    payload = {
                        "id": "msg_test",
                        "type": "message",
                        "role": "assistant",
                        "model": body["model"],
                        "content": [{"type": "text", "text": "Here you go:\n" + json.dumps(api.answer)}],
                        "stop_reason": "end_turn",
                        "stop_sequence": None,
                        "usage": {"input_tokens": 12, "output_tokens": 34},
                    }
                data = json.dumps(payload).encode()
                self.send_response(api.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def messages_api() -> Iterator[MessagesAPI]:
    api = MessagesAPI()
    yield api
    api.server.shutdown()


async def open_engine(settings: Settings) -> Engine:
    registry = Registry()
    registry.register(Component("payments"))  # no rules, no fixers: only the LLM can explain
    return await Engine.open(settings, registry)


async def test_llm_explains_what_no_rule_does(
    make_settings: Callable[..., Settings], messages_api: MessagesAPI
) -> None:
    settings = make_settings(
        llm="auto", anthropic_api_key="sk-ant-test-key-123456", anthropic_base_url=messages_api.url
    )
    async with await open_engine(settings) as engine:
        result = await engine.auto_fix(
            failure=FailureReport(
                component="payments",
                symptom="bad_response",
                message="charge failed: postgres://u:hunter2@db/x",
                context={"api_key": "sk-live-abcdefghijklmnopqrst", "status": 502},
            )
        )
    assert result.issue.probable_causes == ["(LLM) the upstream API changed its response"]
    assert result.issue.recommended_fixes == ["(LLM) pin the API version"]
    (request,) = messages_api.requests
    assert request["path"] == "/v1/messages"
    headers = {k.lower(): v for k, v in request["headers"].items()}
    sent_key = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")
    assert sent_key == "sk-ant-test-key-123456"
    sent = json.dumps(request["body"])
    assert "hunter2" not in sent and "sk-live-abcdefghijklmnopqrst" not in sent, "nothing secret reaches the model"
    assert "charge failed" in sent


async def test_llm_failure_is_not_fatal(make_settings: Callable[..., Settings], messages_api: MessagesAPI) -> None:
    messages_api.status = 529
    settings = make_settings(
        llm="auto", anthropic_api_key="sk-ant-test-key-123456", anthropic_base_url=messages_api.url
    )
    async with await open_engine(settings) as engine:
        result = await engine.auto_fix(failure=FailureReport(component="payments", symptom="bad_response"))
    assert result.issue.probable_causes == ["No rule explains this failure yet."]
    assert result.patches, "with nothing to try, a human gets the issue"


async def test_llm_is_not_called_without_a_key(
    make_settings: Callable[..., Settings], messages_api: MessagesAPI
) -> None:
    settings = make_settings(llm="auto", anthropic_base_url=messages_api.url)
    async with await open_engine(settings) as engine:
        await engine.auto_fix(failure=FailureReport(component="payments", symptom="bad_response"))
    assert messages_api.requests == []


def test_parse_llm_answer_is_defensive() -> None:
    assert parse_llm_answer("no json here") is None
    assert parse_llm_answer('{"causes": [], "fixes": []}') is None
    parsed = parse_llm_answer('```json\n{"causes": ["a", "b", "c", "d"], "confidence": "high"}\n```')
    assert parsed is not None and parsed.causes == ["a", "b", "c"] and parsed.confidence == 0.3


def test_rules_that_crash_are_reported(tmp_path: Path) -> None:
    import anyio

    from healing_mcp.core.diagnosis import diagnose
    from healing_mcp.models import HealthIssue, utcnow

    def broken_rule(issue: HealthIssue) -> None:
        raise KeyError("oops")

    issue = HealthIssue(
        id="iss_1", component="c", kind="k", signature="sig1:1", title="t", first_seen=utcnow(), last_seen=utcnow()
    )
    diagnosis, errors = anyio.run(diagnose, issue, Component("c", rules=[broken_rule]), [], None)  # type: ignore[list-item]
    assert errors == ["root-cause rule broken_rule failed: KeyError: 'oops'"]
    assert diagnosis.causes == ["No rule explains this failure yet."]
