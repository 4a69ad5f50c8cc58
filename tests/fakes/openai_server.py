"""A real HTTP server that speaks enough of the OpenAI chat API to test drafting end to end.

    from fakes import FakeOpenAI, Reply   # tests/ is on sys.path under pytest

    with FakeOpenAI() as fake:
        settings = LLMSettings(model=fake.model, base_url=fake.base_url, api_key="test")
        fake.script(["invalid_json", "good"])   # then default behaviour (good drafts) resumes
        ...
        assert len(fake.calls) == 2

Default replies are schema-valid drafts built from the request: each summary sentence is a
sentence copied from a <source n="..."> block and cites that block's number, so grounding passes.
Capability probes (a system message starting "newsdesk capability probe") get the answer they
ask for and do not use up scripted replies; `chat_calls` leaves them out, `probe_calls` has them. Like a
naive model, the fake obeys "ignore previous instructions" only when that text appears outside
every <source> block, which makes delimiting failures visible in tests.
"""
from __future__ import annotations

import html
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable, Union

from newsdesk.demo.server import QuietHTTPServer

GOOD = "good"
BEHAVIOURS = (
    "good",               # schema-valid draft from the request's sources
    "invalid_json",       # 200 with a reply that is not JSON
    "bad_schema",         # 200 with JSON missing required fields
    "truncated",          # 200, half a JSON object, finish_reason "length"
    "refusal",            # 200 with message.refusal set, content null
    "foreign_citations",  # good draft that cites ids not in the request
    "rate_limit",         # 429 with Retry-After (seconds) and retry-after-ms
    "server_error",       # 500
    "format_500",         # 500 whose message says the response_format is not supported (llama.cpp)
    "bad_request",        # 400 unrelated to response_format
)


@dataclass
class Reply:
    """One scripted reply. `content` overrides the generated reply text; `latency` adds a delay."""

    kind: str = GOOD
    latency: float | None = None
    content: str | None = None
    retry_after: float = 0.05  # for rate_limit, in seconds

    def __post_init__(self) -> None:
        if self.kind not in BEHAVIOURS:
            raise ValueError(f"unknown fake behaviour {self.kind!r}; one of {BEHAVIOURS}")


Scripted = Union[str, Reply, Callable[[dict], Any]]


@dataclass
class FakeCall:
    """One request as the server saw it, and what it answered."""

    path: str
    body: dict[str, Any]
    status: int
    kind: str
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names

    @property
    def response_format(self) -> str | None:
        rf = self.body.get("response_format")
        return rf.get("type") if isinstance(rf, dict) else None

    @property
    def mode(self) -> str:
        """The structured-output mode asked for (json_object_schema: a schema inside json_object)."""
        rf = self.body.get("response_format")
        if not isinstance(rf, dict):
            return "text"
        if rf.get("type") == "json_schema":
            return "json_schema"
        return "json_object_schema" if "schema" in rf else "json_object"

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body.get("messages", [])

    def text(self, role: str | None = None) -> str:
        return "\n".join(str(m.get("content") or "") for m in self.messages if role is None or m.get("role") == role)


_SOURCE = re.compile(r"<source\s+([^>]*)>(.*?)</source>", re.DOTALL)
_ID = re.compile(r'\bn="([^"]*)"')
PROBE_MARK = "newsdesk capability probe"
_INJECTION = re.compile(r"ignore (all )?(the )?previous instructions", re.IGNORECASE)
_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"“])")


def parse_sources(prompt: str) -> list[tuple[str, str]]:
    """(number, text) of every <source n="..."> block, unescaped the way the prompt escapes them."""
    out = []
    for attrs, body in _SOURCE.findall(prompt):
        m = _ID.search(attrs)
        if not m:
            continue
        text = re.sub(r"&lt;\s*(/?)\s*(source|sources|previous_story)\b", r"<\1\2", body, flags=re.IGNORECASE)
        out.append((html.unescape(m.group(1)), text.strip()))
    return out


def _sentences(text: str) -> list[str]:
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("Title:")]
    sentences = _SENT.split(" ".join(" ".join(lines).split()))
    return [s for s in sentences if len(s.split()) >= 4]


DEFAULT_VIEW = ("This matters because the release shows how quickly capable systems are spreading, "
                "and it raises the bar for every competitor that has to answer with a cheaper or better product.")


def good_draft(body: dict[str, Any], foreign: bool = False, tags: tuple[str, ...] = ("Models",)) -> dict[str, Any]:
    """A schema-valid draft that passes the house-style linter: 2-6 sentences copied from the
    sources (each citing its source), a headline from the first title, a 20+ word view."""
    system = "\n".join(str(m.get("content") or "") for m in body.get("messages", []) if m.get("role") == "system")
    user = "\n".join(str(m.get("content") or "") for m in body.get("messages", []) if m.get("role") == "user")
    sources = parse_sources(user)
    summary: list[dict[str, Any]] = []
    for sid, text in sources[:3]:
        for sentence in _sentences(text)[:2]:
            summary.append({"text": sentence, "sources": [99 if foreign else int(sid)],
                            "paragraph_break": False})
    if not summary:
        summary = [{"text": "The sources give no details.", "sources": [], "paragraph_break": False}]
    title = ""
    if sources:
        m = re.search(r"^Title: (.+)$", sources[0][1], re.MULTILINE)
        title = " ".join(m.group(1).split()[:12]).rstrip(".") if m else ""
    digest = "Why it matters:" in system
    return {
        "headline": title or "A story about AI models",
        "summary": summary,
        "view": DEFAULT_VIEW,
        "tags": list(tags),
        "section": "New models" if digest else None,
    }


class FakeOpenAI:
    """Threaded OpenAI-compatible server on 127.0.0.1 with scriptable replies and call counting."""

    def __init__(self, *, model: str = "fake-model", latency: float = 0.0, supports_json_schema: bool = True,
                 supports_json_object: bool = True, cached_tokens: int = 0, serial: bool = False,
                 usage: bool = True, context_length: int | None = None):
        self.model = model
        self.serial = serial  # one request at a time, like a small local server
        self.usage = usage  # False: no `usage` in replies, like some local servers
        self.context_length = context_length  # advertised in /v1/models when set
        self.latency = latency
        self.supports_json_schema = supports_json_schema
        self.supports_json_object = supports_json_object
        self.cached_tokens = cached_tokens
        self.calls: list[FakeCall] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._script: list[Scripted] = []
        self._default: Scripted = GOOD
        self._lock = threading.Condition()
        self._gate: int | None = None
        self._gate_skip = 0
        self._gate_timeout = 5.0
        self._serial_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> "FakeOpenAI":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

        self._server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeOpenAI":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "FakeOpenAI is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    # --- scripting -----------------------------------------------------------------------

    def script(self, replies: Iterable[Scripted]) -> "FakeOpenAI":
        """Queue replies for the next chat requests; afterwards the default applies again.

        Each item is a behaviour name (see BEHAVIOURS), a Reply, or a callable taking the
        request body and returning a dict (sent as the message content JSON) or a str.
        """
        with self._lock:
            self._script.extend(replies)
        return self

    def gate(self, n: int, *, skip: int = 0, timeout: float = 5.0) -> None:
        """Hold chat requests until `n` are in flight at once (then let everything through), so a
        test can prove a concurrency level is reached without timing. The first `skip` requests
        pass ungated (e.g. a mode probe that runs alone). Gives up after `timeout`."""
        with self._lock:
            self._gate, self._gate_skip, self._gate_timeout = n, skip, timeout

    def set_default(self, reply: Scripted) -> None:
        with self._lock:
            self._default = reply

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self._script.clear()
            self._default = GOOD
            self._gate = None
            self.max_in_flight = 0

    @property
    def chat_calls(self) -> list[FakeCall]:
        """Chat requests other than capability probes."""
        return [c for c in self.calls if c.path.endswith("/chat/completions") and not is_probe(c.body)]

    @property
    def probe_calls(self) -> list[FakeCall]:
        return [c for c in self.calls if c.path.endswith("/chat/completions") and is_probe(c.body)]

    # --- serving -------------------------------------------------------------------------

    def _handle(self, req: BaseHTTPRequestHandler, method: str) -> None:
        path = req.path.split("?")[0]
        length = int(req.headers.get("content-length") or 0)
        raw = req.rfile.read(length) if length else b""
        if method == "GET" and path.rstrip("/") == "/v1/models":
            entry: dict[str, Any] = {"id": self.model, "object": "model", "created": 0, "owned_by": "fake"}
            if self.context_length:
                entry["context_length"] = self.context_length
            self._send(req, 200, {"object": "list", "data": [entry]})
            return
        if method != "POST" or path.rstrip("/") != "/v1/chat/completions":
            self._send(req, 404, _error("not found", "invalid_request_error"))
            return
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._send(req, 400, _error("could not parse JSON body", "invalid_request_error"))
            return
        if self.serial:
            with self._serial_lock:
                self._serve(req, path, body)
        else:
            self._serve(req, path, body)

    def _serve(self, req: BaseHTTPRequestHandler, path: str, body: dict[str, Any]) -> None:
        if is_probe(body):
            status, payload, kind = self._probe_answer(body)
            with self._lock:
                self.calls.append(FakeCall(path, body, status, kind, {k.lower(): v for k, v in req.headers.items()}))
            self._send(req, status, payload)
            return
        with self._lock:
            item: Scripted = self._script.pop(0) if self._script else self._default
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if self._gate is not None and self._gate_skip > 0:
                self._gate_skip -= 1
            elif self._gate is not None:
                self._lock.notify_all()
                self._lock.wait_for(lambda: self._gate is None or self.in_flight >= self._gate,
                                    timeout=self._gate_timeout)
                self._gate = None  # open for good, also after a timeout, so nothing deadlocks
                self._lock.notify_all()
        try:
            status, payload, headers, kind = self._respond(body, item)
        finally:
            with self._lock:
                self.in_flight -= 1
        with self._lock:
            self.calls.append(FakeCall(path, body, status, kind, {k.lower(): v for k, v in req.headers.items()}))
        self._send(req, status, payload, headers)

    def _unsupported(self, body: dict[str, Any]) -> tuple[int, dict, dict[str, str], str] | None:
        rf = body.get("response_format") or {}
        rf_type = rf.get("type") if isinstance(rf, dict) else None
        if (rf_type == "json_schema" and not self.supports_json_schema) or (
            rf_type == "json_object" and not self.supports_json_object
        ):
            return 400, _error(f"response_format type '{rf_type}' is not supported by this server",
                               "invalid_request_error", param="response_format"), {}, "unsupported_format"
        return None

    def _probe_answer(self, body: dict[str, Any]) -> tuple[int, dict, str]:
        """Capability probes are answered as asked, like a model that follows instructions."""
        if self.latency:
            time.sleep(self.latency)
        refused = self._unsupported(body)
        if refused is not None:
            return refused[0], refused[1], "probe_" + refused[3]
        user = "\n".join(str(m.get("content") or "") for m in body.get("messages", []) if m.get("role") == "user")
        content = '{"word": "ready", "number": 3}' if '"word"' in user else (
            " ".join(str(i) for i in range(1, 41)) if "Count from 1" in user else "ok")
        return 200, self._completion(body, content), "probe"

    def _respond(self, body: dict[str, Any], item: Scripted) -> tuple[int, dict, dict[str, str], str]:
        reply = item if isinstance(item, Reply) else Reply(item) if isinstance(item, str) else None
        latency = reply.latency if reply is not None and reply.latency is not None else self.latency
        if latency:
            time.sleep(latency)
        refused = self._unsupported(body)
        if refused is not None:
            return refused
        if reply is None:  # a callable
            produced = item(body)  # type: ignore[operator]
            content = produced if isinstance(produced, str) else json.dumps(produced)
            return 200, self._completion(body, content), {}, "custom"
        kind = reply.kind
        if kind == "rate_limit":
            headers = {"Retry-After": str(max(1, round(reply.retry_after))),
                       "retry-after-ms": str(int(reply.retry_after * 1000))}
            return 429, _error("Rate limit reached", "rate_limit_exceeded"), headers, kind
        if kind == "server_error":
            return 500, _error("The server had an error while processing your request", "server_error"), {}, kind
        if kind == "format_500":
            return 500, _error(f"response_format type '{(body.get('response_format') or {}).get('type')}' "
                               "is not supported", "server_error"), {}, kind
        if kind == "bad_request":
            return 400, _error("Invalid value for 'temperature'", "invalid_request_error", param="temperature"), {}, kind
        user = "\n".join(str(m.get("content") or "") for m in body.get("messages", []) if m.get("role") == "user")
        outside = _SOURCE.sub("", user)
        if kind == GOOD and _INJECTION.search(outside):
            # a naive model following an instruction that escaped its delimiters
            return 200, self._completion(body, "HACKED: the article told me to write this instead."), {}, "injected"
        if kind == "refusal":
            return 200, self._completion(body, None, refusal="I'm sorry, I can't help with that."), {}, kind
        draft = good_draft(body, foreign=(kind == "foreign_citations"))
        content = reply.content if reply.content is not None else json.dumps(draft, ensure_ascii=False)
        if kind == "invalid_json" and reply.content is None:
            content = "Sure! Here is the draft: {headline: " + draft["headline"] + ", summary: [oops"
        if kind == "bad_schema" and reply.content is None:
            content = json.dumps({"title": draft["headline"], "body": "no summary list"})
        if kind == "truncated":
            full = reply.content if reply.content is not None else json.dumps(draft, ensure_ascii=False)
            return 200, self._completion(body, full[: max(1, len(full) // 2)], finish_reason="length"), {}, kind
        return 200, self._completion(body, content), {}, kind

    def _completion(self, body: dict[str, Any], content: str | None, *, refusal: str | None = None,
                    finish_reason: str = "stop") -> dict[str, Any]:
        prompt_chars = sum(len(str(m.get("content") or "")) for m in body.get("messages", []))
        prompt_tokens = max(1, prompt_chars // 4)
        completion_tokens = max(1, len(content or refusal or "") // 4)
        reply = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", self.model),
            "system_fingerprint": "fp_fake",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": refusal, "annotations": []},
                "logprobs": None,
                "finish_reason": finish_reason,
            }],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "prompt_tokens_details": {"cached_tokens": min(self.cached_tokens, prompt_tokens), "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                              "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
            },
        }
        if not self.usage:
            del reply["usage"]
        return reply

    @staticmethod
    def _send(req: BaseHTTPRequestHandler, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        try:
            req.send_response(status)
            req.send_header("Content-Type", "application/json")
            req.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                req.send_header(k, v)
            req.end_headers()
            req.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client timed out and hung up
            req.close_connection = True


def is_probe(body: dict[str, Any]) -> bool:
    return any(m.get("role") == "system" and str(m.get("content") or "").startswith(PROBE_MARK)
               for m in body.get("messages", []))


def _error(message: str, type_: str, *, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": None}}
