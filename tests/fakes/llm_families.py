"""Loopback servers that behave like the OpenAI-compatible APIs of four server families.

Written from each family's documented (and, for llama.cpp, measured) behaviour, not from our
client, so that drafting is tested against what real servers do. docs/llm-servers.md lists the
behaviours and their sources. Replies come from `small_model.SmallModel`.

    from fakes import LlamaCppServer, VLLMServer, OllamaServer, OpenAIServer

    with LlamaCppServer(per_output_token=0.001) as server:
        ...  # OPENAI_BASE_URL=server.base_url, NEWSDESK_MODEL=server.model
        assert all(r.status == 200 for r in server.chat_requests)

Every server
- records each request (`requests`, `chat_requests`: path, body, lower-cased headers, status,
  what constrained the reply, tokens, whether the client hung up before the answer);
- takes `latency + prompt_tokens * per_prompt_token + output_tokens * per_output_token`
  seconds per reply, holding one of `parallel` slots (None: unlimited) meanwhile;
- answers `stream: true` with server-sent events, the tokens spread over the generation time;
- cuts the reply at max_tokens (finish_reason "length");
- fails on demand: `inject("timeout", "server_error", ...)` queues failures for the next chat
  requests; `inject("server_error", when=lambda r: "Kestrel" in r.text(), times=None)` fails
  every request about one story (see FAILURES).

Families differ in what they accept and how they say no:
- LlamaCppServer: llama-cpp-python 0.3.x (`python -m llama_cpp.server`): json_schema -> HTTP 500;
  json_object + schema -> constrained; json_object -> any JSON; serial; /v1/models without a
  context size; prompt >= n_ctx -> 400; max_tokens clipped to what the context leaves.
- LlamaServerCpp: llama.cpp's C++ llama-server: json_schema works; /v1/models tells the training
  context (meta.n_ctx_train), /props the serving one.
- VLLMServer: json_schema and `guided_json` / `structured_outputs.json` constrain; a schema inside
  json_object is ignored; /v1/models has max_model_len; prompt + max_tokens over it -> 400.
- OllamaServer: json_schema constrains; json_object -> any JSON (schema inside it ignored); a
  prompt over num_ctx is cut silently from the front; /api/show tells the context length.
- OpenAIServer: strict json_schema checked like the API (400 invalid_request_error); json_object
  needs the word "json" in the messages; 429 with retry-after headers; cached prompt tokens.
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator

from newsdesk.demo.server import QuietHTTPServer

from .small_model import ANY_JSON, SCHEMA, TEXT, SmallModel, estimate_tokens, message_text

FAILURES = (
    "timeout",       # hold the request for `hang_seconds` (past any sane client timeout), then answer
    "server_error",  # HTTP 500 in the family's error shape
    "truncated",     # 200 with half the reply and finish_reason "length"
    "disconnect",    # close the connection without an answer (a crashed worker)
    "rate_limit",    # HTTP 429 (OpenAI: with retry-after headers)
    "overloaded",    # HTTP 503
)


@dataclass
class Recorded:
    """One request as the server saw it and what it did with it."""

    method: str
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    status: int = 0
    kind: str = ""  # ok | stream | rejected | context | <failure name>
    constraint: str | None = None  # schema | json | text: what the server constrained the reply with
    error: str | None = None
    sent_tokens: int = 0  # the prompt as sent (estimated)
    prompt_tokens: int = 0  # the prompt as the model saw it (Ollama cuts what exceeds num_ctx)
    completion_tokens: int = 0
    started: float = 0.0
    finished: float = 0.0
    client_gone: bool = False  # the client hung up before the answer was written

    @property
    def response_format(self) -> str | None:
        rf = self.body.get("response_format")
        return rf.get("type") if isinstance(rf, dict) else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body.get("messages") or []

    def text(self, role: str | None = None) -> str:
        return "\n".join(message_text(m) for m in self.messages if role is None or m.get("role") == role)


class _Reject(Exception):
    def __init__(self, status: int, payload: dict[str, Any], kind: str = "rejected",
                 headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status, self.payload, self.kind, self.headers = status, payload, kind, headers or {}


class FamilyServer:
    """Threaded HTTP server on 127.0.0.1; subclasses define one family's API."""

    family = "generic"
    default_model = "model"
    default_parallel: int | None = None

    def __init__(self, *, model: str | None = None, latency: float = 0.0, per_prompt_token: float = 0.0,
                 per_output_token: float = 0.0, parallel: int | None | str = "default", sloppy: bool = False,
                 follows_prompt_schema: bool = True, seed: int = 0, hang_seconds: float = 30.0,
                 context_tokens: int = 8192):
        self.model = model or self.default_model
        self.latency, self.per_prompt_token, self.per_output_token = latency, per_prompt_token, per_output_token
        self.parallel = self.default_parallel if parallel == "default" else parallel
        self.brain = SmallModel(sloppy=sloppy, follows_prompt_schema=follows_prompt_schema, seed=seed)
        self.hang_seconds = hang_seconds
        self.context_tokens = context_tokens
        self.requests: list[Recorded] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._failures: list[list[Any]] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.parallel) if self.parallel else None
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> "FamilyServer":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._serve(self, "GET")

            def do_POST(self) -> None:
                fake._serve(self, "POST")

        self._stopping.clear()
        self._server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name=f"fake-{self.family}",
                         daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes requests that sleep or hang
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, f"{type(self).__name__} is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    # --- scripting and inspection --------------------------------------------------------

    def inject(self, *failures: str, when: Callable[[Recorded], bool] | None = None,
               times: int | None = 1) -> "FamilyServer":
        """Fail chat requests (see FAILURES): each failure hits the next request for which `when`
        is true (any request by default), `times` times (None: for ever), in the order given."""
        for f in failures:
            if f not in FAILURES:
                raise ValueError(f"unknown failure {f!r}; one of {FAILURES}")
        with self._lock:
            self._failures.extend([f, when, times] for f in failures)
        return self

    def _take_failure(self, rec: Recorded) -> str | None:
        with self._lock:
            for entry in self._failures:
                kind, when, times = entry
                if when is None or when(rec):
                    if times is not None:
                        entry[2] = times - 1
                        if entry[2] <= 0:
                            self._failures.remove(entry)
                    return kind
        return None

    @property
    def chat_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.rstrip("/").endswith("/chat/completions")]

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._failures.clear()
            self.max_in_flight = 0

    # --- family hooks ----------------------------------------------------------------------

    def models_payload(self) -> dict[str, Any]:
        return {"object": "list", "data": [{"id": self.model, "object": "model", "created": 0, "owned_by": "fake"}]}

    def error(self, status: int, message: str, *, type_: str | None = None, param: str | None = None,
              code: Any = None) -> dict[str, Any]:
        return {"error": {"message": message, "type": type_ or "invalid_request_error", "param": param, "code": code}}

    def authorize(self, headers: dict[str, str]) -> None:
        """Raise _Reject when the family wants an API key and this one is wrong (local servers don't)."""

    def check(self, body: dict[str, Any], headers: dict[str, str]) -> None:
        """Raise _Reject for a chat request this family refuses."""

    def constraint(self, body: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
        """What the family constrains the reply with: (SCHEMA, schema) | (ANY_JSON, None) | (TEXT, None)."""
        return TEXT, None

    def fit_prompt(self, body: dict[str, Any], prompt_tokens: int) -> tuple[list[dict[str, Any]], int]:
        """The messages the model sees and their token count (a family may cut or refuse)."""
        return list(body.get("messages") or []), prompt_tokens

    def output_limit(self, body: dict[str, Any], prompt_tokens: int) -> int | None:
        asked = body.get("max_completion_tokens") or body.get("max_tokens")
        return int(asked) if asked else None

    def usage(self, prompt_tokens: int, completion_tokens: int, body: dict[str, Any]) -> dict[str, Any] | None:
        return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens}

    def completion_extra(self) -> dict[str, Any]:
        return {}

    def success_headers(self, elapsed: float) -> dict[str, str]:
        return {}

    def failure(self, kind: str) -> _Reject:
        if kind == "rate_limit":
            return _Reject(429, self.error(429, "Too many requests", type_="rate_limit_error"), kind)
        if kind == "overloaded":
            return _Reject(503, self.error(503, "Service Unavailable", type_="server_error"), kind)
        return _Reject(500, self.error(500, "Internal Server Error", type_="server_error"), kind)

    def other_route(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        return None

    # --- serving -------------------------------------------------------------------------

    def _serve(self, req: BaseHTTPRequestHandler, method: str) -> None:
        path = req.path.split("?")[0]
        length = int(req.headers.get("content-length") or 0)
        raw = req.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in req.headers.items()}
        try:
            body = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            body = {"_raw": raw.decode("utf-8", "replace")}
        rec = Recorded(method, path, body if isinstance(body, dict) else {"_json": body}, headers,
                       started=time.monotonic())
        with self._lock:
            self.requests.append(rec)
        route = path.rstrip("/")
        try:
            self.authorize(headers)
        except _Reject as r:
            rec.status, rec.kind, rec.error = r.status, r.kind, _message(r.payload)
            self._send(req, rec, r.status, r.payload, r.headers)
            return
        if method == "GET" and route == "/v1/models":
            with self._slot():
                rec.status, rec.kind = 200, "ok"
                self._send(req, rec, 200, self.models_payload())
            return
        if method == "POST" and route == "/v1/chat/completions":
            self._chat(req, rec)
            return
        other = self.other_route(method, route, rec.body)
        if other is not None:
            rec.status, rec.kind = other[0], "ok"
            self._send(req, rec, other[0], other[1])
            return
        rec.status, rec.kind = 404, "not_found"
        self._send(req, rec, 404, self.error(404, f"Not Found: {method} {path}", type_="not_found_error"))

    def _slot(self):
        fake = self

        class _Held:
            def __enter__(self_inner):
                if fake._slots is not None:
                    while not fake._slots.acquire(timeout=0.1):
                        if fake._stopping.is_set():
                            break
                with fake._lock:
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)

            def __exit__(self_inner, *exc: object) -> None:
                with fake._lock:
                    fake.in_flight -= 1
                if fake._slots is not None:
                    try:
                        fake._slots.release()
                    except ValueError:
                        pass

        return _Held()

    def _chat(self, req: BaseHTTPRequestHandler, rec: Recorded) -> None:
        body = rec.body
        try:
            self.check(body, rec.headers)
        except _Reject as r:
            rec.status, rec.kind, rec.error = r.status, r.kind, _message(r.payload)
            self._send(req, rec, r.status, r.payload, r.headers)
            return
        failure = self._take_failure(rec)
        with self._slot():
            if failure == "disconnect":
                rec.status, rec.kind = 0, failure
                req.close_connection = True
                try:
                    req.connection.shutdown(2)
                except OSError:
                    pass
                return
            if failure in ("server_error", "rate_limit", "overloaded"):
                r = self.failure(failure)
                rec.status, rec.kind, rec.error = r.status, failure, _message(r.payload)
                self._send(req, rec, r.status, r.payload, r.headers)
                return
            if failure == "timeout":
                self._stopping.wait(self.hang_seconds)
            prompt_tokens = sum(estimate_tokens(message_text(m)) + 4 for m in body.get("messages") or [])
            rec.sent_tokens = prompt_tokens
            try:
                messages, prompt_tokens = self.fit_prompt(body, prompt_tokens)
                constraint, schema = self.constraint(body)
            except _Reject as r:
                rec.status, rec.kind, rec.error = r.status, r.kind, _message(r.payload)
                self._send(req, rec, r.status, r.payload, r.headers)
                return
            rec.constraint, rec.prompt_tokens = constraint, prompt_tokens
            content = self.brain.reply(messages, constraint, schema)
            finish = "stop"
            limit = self.output_limit(body, prompt_tokens)
            if limit is not None and estimate_tokens(content) > limit:
                content, finish = content[: max(1, limit * 4)], "length"
            if failure == "truncated":
                content, finish = content[: max(1, len(content) // 2)], "length"
            rec.completion_tokens = estimate_tokens(content)
            started = time.monotonic()
            think = self.latency + prompt_tokens * self.per_prompt_token
            if body.get("stream"):
                rec.kind = failure or "stream"
                self._stream(req, rec, body, content, finish, think)
                return
            self._stopping.wait(think + rec.completion_tokens * self.per_output_token)
            payload = {
                "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model") or self.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                             "logprobs": None, "finish_reason": finish}],
                **self.completion_extra(),
            }
            usage = self.usage(prompt_tokens, rec.completion_tokens, body)
            if usage is not None:
                payload["usage"] = usage
            rec.status, rec.kind = 200, failure or "ok"
            self._send(req, rec, 200, payload, self.success_headers(time.monotonic() - started))

    def _stream(self, req: BaseHTTPRequestHandler, rec: Recorded, body: dict[str, Any], content: str,
                finish: str, think: float) -> None:
        rid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        model = body.get("model") or self.model

        def chunk(delta: dict[str, Any], reason: str | None) -> dict[str, Any]:
            return {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
                    "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}]}

        pieces = [content[i:i + 16] for i in range(0, len(content), 16)] or [""]
        per_piece = rec.completion_tokens * self.per_output_token / len(pieces)
        rec.status = 200
        try:
            req.send_response(200)
            req.send_header("Content-Type", "text/event-stream")
            req.send_header("Cache-Control", "no-cache")
            req.send_header("Connection", "close")
            req.end_headers()
            req.close_connection = True
            self._stopping.wait(think)
            events = [chunk({"role": "assistant", "content": ""}, None)]
            events += [chunk({"content": p}, None) for p in pieces]
            events.append(chunk({}, finish))
            for i, event in enumerate(events):
                if 0 < i < len(events) - 1:
                    self._stopping.wait(per_piece)
                req.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                req.wfile.flush()
            include = (body.get("stream_options") or {}).get("include_usage")
            usage = self.usage(rec.prompt_tokens, rec.completion_tokens, body)
            if include and usage is not None:
                final = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
                         "choices": [], "usage": usage}
                req.wfile.write(f"data: {json.dumps(final)}\n\n".encode())
            rec.finished = time.monotonic()  # before the last line: a client that has it must see this set
            req.wfile.write(b"data: [DONE]\n\n")
            req.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            rec.client_gone = True
            rec.finished = time.monotonic()

    def _send(self, req: BaseHTTPRequestHandler, rec: Recorded, status: int, payload: dict[str, Any],
              headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        # Stamped before the reply goes out: a client that has its answer must see `finished` set.
        rec.finished = time.monotonic()
        try:
            req.send_response(status)
            req.send_header("Content-Type", "application/json")
            req.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                req.send_header(k, v)
            req.end_headers()
            req.wfile.write(data)
            req.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            rec.client_gone = True
            req.close_connection = True


def _message(payload: dict[str, Any]) -> str:
    err = payload.get("error", payload)
    return str(err.get("message", "")) if isinstance(err, dict) else str(err)


def _schema_in_format(body: dict[str, Any]) -> dict[str, Any] | None:
    rf = body.get("response_format")
    if isinstance(rf, dict) and rf.get("type") == "json_schema":
        js = rf.get("json_schema")
        if isinstance(js, dict) and isinstance(js.get("schema"), dict):
            return js["schema"]
    return None


# ------------------------------------------------------------------------------------------
# llama.cpp: llama-cpp-python 0.3.x `python -m llama_cpp.server`
# ------------------------------------------------------------------------------------------


class LlamaCppServer(FamilyServer):
    """llama-cpp-python's server with one small model loaded.

    Measured against llama-cpp-python 0.3.36 with SmolLM2-135M-Instruct (docs/llm-servers.md):
    the request model's `response_format` is a TypedDict with `type: Literal["text", "json_object"]`
    and an optional `schema`; any other type fails request validation inside the route, whose error
    handler answers every exception with HTTP 500 `internal_server_error` (at once, without waiting
    for the model). One model, one lock: generation and /v1/models wait for the running request.
    Replies carry `usage` (no details) and an `openai-processing-ms` header; errors carry neither.
    """

    family = "llama.cpp"
    default_model = "models/SmolLM2-135M-Instruct.Q4_1.gguf"
    default_parallel = 1

    def __init__(self, *, n_ctx: int = 8192, follows_prompt_schema: bool = False, **kw: Any):
        super().__init__(follows_prompt_schema=follows_prompt_schema, context_tokens=n_ctx, **kw)
        self.n_ctx = n_ctx

    def models_payload(self) -> dict[str, Any]:
        # No context size here: only the C++ llama-server adds `meta.n_ctx_train`.
        return {"object": "list", "data": [{"id": self.model, "object": "model", "owned_by": "me",
                                            "permissions": []}]}

    def error(self, status: int, message: str, *, type_: str | None = None, param: str | None = None,
              code: Any = None) -> dict[str, Any]:
        return {"error": {"message": message, "type": type_ or "internal_server_error", "param": param,
                          "code": code}}

    def check(self, body: dict[str, Any], headers: dict[str, str]) -> None:
        rf = body.get("response_format")
        if isinstance(rf, dict) and rf.get("type") not in ("text", "json_object"):
            raise _Reject(500, self.error(500, _LLAMA_FORMAT_ERROR.format(given=repr(rf.get("type")))))

    def constraint(self, body: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
        rf = body.get("response_format")
        if isinstance(rf, dict) and rf.get("type") == "json_object":
            schema = rf.get("schema")
            if isinstance(schema, dict):
                return SCHEMA, schema
            return ANY_JSON, None
        return TEXT, None

    def fit_prompt(self, body: dict[str, Any], prompt_tokens: int) -> tuple[list[dict[str, Any]], int]:
        if prompt_tokens >= self.n_ctx:
            completion = body.get("max_tokens")
            message = (f"This model's maximum context length is {self.n_ctx} tokens. However, you requested "
                       f"{(completion or 0) + prompt_tokens} tokens ({prompt_tokens} in the messages, "
                       f"{completion} in the completion). Please reduce the length of the messages or completion.")
            raise _Reject(400, self.error(400, message, type_="invalid_request_error", param="messages",
                                          code="context_length_exceeded"), "context")
        return list(body.get("messages") or []), prompt_tokens

    def output_limit(self, body: dict[str, Any], prompt_tokens: int) -> int | None:
        asked = body.get("max_tokens")
        room = self.n_ctx - prompt_tokens
        return min(int(asked), room) if asked and int(asked) > 0 else room

    def success_headers(self, elapsed: float) -> dict[str, str]:
        return {"openai-processing-ms": str(int(elapsed * 1000))}

    def failure(self, kind: str) -> _Reject:
        if kind == "server_error":
            return _Reject(500, self.error(500, "llama_decode returned -3"), kind)
        return super().failure(kind)


# What llama-cpp-python 0.3.36 put into its 500 for a json_schema request, measured (docs/llm-servers.md).
_LLAMA_FORMAT_ERROR = (
    "1 validation error:\n  {{'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), 'msg': \"Input "
    "should be 'text' or 'json_object'\", 'input': {given}, 'ctx': {{'expected': \"'text' or 'json_object'\"}}}}\n\n"
    "  File \"site-packages/llama_cpp/server/app.py\", line 376, in create_chat_completion\n"
    "    POST /v1/chat/completions"
)


class LlamaServerCpp(LlamaCppServer):
    """llama.cpp's own C++ `llama-server` (not the Python binding), for contrast.

    It takes json_schema (since 2024-09) as well as json_object with a schema, reports the
    *training* context as `meta.n_ctx_train` in /v1/models and the serving context as
    `default_generation_settings.n_ctx` in /props, and serves `parallel` slots at once.
    """

    family = "llama-server"
    default_model = "SmolLM2-135M-Instruct.Q4_1.gguf"

    def __init__(self, *, n_ctx: int = 4096, n_ctx_train: int = 8192, parallel: int | None | str = 1, **kw: Any):
        super().__init__(n_ctx=n_ctx, parallel=parallel, **kw)
        self.n_ctx_train = n_ctx_train

    def models_payload(self) -> dict[str, Any]:
        return {"object": "list", "data": [{
            "id": self.model, "object": "model", "created": int(time.time()), "owned_by": "llamacpp",
            "meta": {"vocab_type": 2, "n_vocab": 49152, "n_ctx_train": self.n_ctx_train, "n_embd": 576,
                     "n_params": 134515008, "size": 98361344}}]}

    def error(self, status: int, message: str, *, type_: str | None = None, param: str | None = None,
              code: Any = None) -> dict[str, Any]:
        kind = type_ or {400: "invalid_request_error", 404: "not_found_error"}.get(status, "server_error")
        return {"error": {"code": status, "message": message, "type": kind}}

    def check(self, body: dict[str, Any], headers: dict[str, str]) -> None:
        rf = body.get("response_format")
        if isinstance(rf, dict) and rf.get("type") not in ("text", "json_object", "json_schema"):
            raise _Reject(400, self.error(400, "response_format type must be one of \"text\", \"json_object\" or "
                                               f"\"json_schema\", but got: {rf.get('type')}"))

    def constraint(self, body: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
        schema = _schema_in_format(body)
        if schema is not None:
            return SCHEMA, schema
        return super().constraint(body)

    def fit_prompt(self, body: dict[str, Any], prompt_tokens: int) -> tuple[list[dict[str, Any]], int]:
        if prompt_tokens >= self.n_ctx // (self.parallel or 1):
            raise _Reject(400, self.error(400, "the request exceeds the available context size, try increasing it",
                                          type_="exceed_context_size_error"), "context")
        return list(body.get("messages") or []), prompt_tokens

    def other_route(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        if method == "GET" and path == "/props":
            return 200, {"default_generation_settings": {"n_ctx": self.n_ctx // (self.parallel or 1)},
                         "total_slots": self.parallel or 1, "model_path": self.model}
        return None


# ------------------------------------------------------------------------------------------
# vLLM
# ------------------------------------------------------------------------------------------


class VLLMServer(FamilyServer):
    """vLLM's OpenAI-compatible server.

    Structured output: response_format json_schema, `structured_outputs: {"json": ...}` (current) or
    `guided_json` (removed in v0.12; `guided_json_removed=True` ignores it like new versions do).
    Unknown request fields, including `schema` inside response_format, are ignored with a warning.
    """

    family = "vllm"
    default_model = "HuggingFaceTB/SmolLM2-360M-Instruct"
    default_parallel = None

    def __init__(self, *, max_model_len: int = 8192, guided_json_removed: bool = False, **kw: Any):
        super().__init__(context_tokens=max_model_len, **kw)
        self.max_model_len = max_model_len
        self.guided_json_removed = guided_json_removed
        self.created = int(time.time())

    def models_payload(self) -> dict[str, Any]:
        return {"object": "list", "data": [{
            "id": self.model, "object": "model", "created": self.created, "owned_by": "vllm",
            "root": self.model, "parent": None, "max_model_len": self.max_model_len,
            "permission": [{"id": f"modelperm-{uuid.uuid4().hex}", "object": "model_permission",
                            "created": self.created, "allow_create_engine": False, "allow_sampling": True,
                            "allow_logprobs": True, "allow_search_indices": False, "allow_view": True,
                            "allow_fine_tuning": False, "organization": "*", "group": None,
                            "is_blocking": False}],
        }]}

    def error(self, status: int, message: str, *, type_: str | None = None, param: str | None = None,
              code: Any = None) -> dict[str, Any]:
        kind = type_ or ("BadRequestError" if status == 400 else "NotFoundError" if status == 404
                         else "InternalServerError")
        return {"error": {"message": message, "type": kind, "param": param, "code": status}}

    def check(self, body: dict[str, Any], headers: dict[str, str]) -> None:
        temperature = body.get("temperature")
        if temperature is not None and not 0 <= float(temperature) <= 2:
            raise _Reject(400, self.error(400, f"temperature must be in [0, 2], got {temperature}.",
                                          param="temperature"))
        rf = body.get("response_format")
        if isinstance(rf, dict):
            if rf.get("type") not in ("text", "json_object", "json_schema", "structural_tag"):
                raise _Reject(400, self.error(400, f"Input should be 'text', 'json_object', 'json_schema' or "
                                                   f"'structural_tag' (input: {rf.get('type')!r})",
                                              param="response_format"))
            if rf.get("type") == "json_schema" and not isinstance(rf.get("json_schema"), dict):
                raise _Reject(400, self.error(400, "json_schema must be provided when response_format type is "
                                                   "json_schema", param="response_format"))
        guided = body.get("guided_json")
        if guided is not None and not self.guided_json_removed and not isinstance(guided, (dict, str)):
            raise _Reject(400, self.error(400, "guided_json must be a JSON schema", param="guided_json"))

    def constraint(self, body: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
        so = body.get("structured_outputs")
        if isinstance(so, dict) and so.get("json") is not None:
            schema = so["json"]
            return SCHEMA, json.loads(schema) if isinstance(schema, str) else schema
        guided = body.get("guided_json")
        if guided is not None and not self.guided_json_removed:
            return SCHEMA, json.loads(guided) if isinstance(guided, str) else guided
        schema = _schema_in_format(body)
        if schema is not None:
            return SCHEMA, schema
        rf = body.get("response_format")
        if isinstance(rf, dict) and rf.get("type") == "json_object":
            return ANY_JSON, None
        return TEXT, None

    def fit_prompt(self, body: dict[str, Any], prompt_tokens: int) -> tuple[list[dict[str, Any]], int]:
        completion = int(body.get("max_completion_tokens") or body.get("max_tokens") or 0)
        if prompt_tokens + completion > self.max_model_len:
            message = (f"This model's maximum context length is {self.max_model_len} tokens. However, you "
                       f"requested {prompt_tokens + completion} tokens ({prompt_tokens} in the messages, "
                       f"{completion} in the completion). Please reduce the length of the messages or completion.")
            raise _Reject(400, self.error(400, message), "context")
        return list(body.get("messages") or []), prompt_tokens

    def usage(self, prompt_tokens: int, completion_tokens: int, body: dict[str, Any]) -> dict[str, Any]:
        return {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens + completion_tokens,
                "completion_tokens": completion_tokens, "prompt_tokens_details": None}

    def completion_extra(self) -> dict[str, Any]:
        return {"prompt_logprobs": None, "kv_transfer_params": None}

    def failure(self, kind: str) -> _Reject:
        if kind == "server_error":
            return _Reject(500, self.error(500, ""), kind)
        return super().failure(kind)


# ------------------------------------------------------------------------------------------
# Ollama
# ------------------------------------------------------------------------------------------


class OllamaServer(FamilyServer):
    """Ollama's /v1 endpoint (openai/openai.go) and the /api/show it offers beside it.

    response_format: json_object -> format "json"; json_schema -> format = json_schema.schema; any
    other key of response_format (like `schema`) is dropped by the request struct. The context is
    num_ctx (4096 by default; not settable through /v1): a longer prompt is cut from the front
    with only a log line, and the reply may use only what is left.
    """

    family = "ollama"
    default_model = "smollm2:135m"
    default_parallel = 4  # OLLAMA_NUM_PARALLEL: 4 or 1 depending on memory

    def __init__(self, *, num_ctx: int = 4096, context_length: int = 8192, **kw: Any):
        super().__init__(context_tokens=num_ctx, **kw)
        self.num_ctx = num_ctx
        self.context_length = context_length  # what the model was trained for (/api/show)
        self.created = int(time.time())

    def models_payload(self) -> dict[str, Any]:
        return {"object": "list", "data": [{"id": self.model, "object": "model", "created": self.created,
                                            "owned_by": "library"}]}

    def error(self, status: int, message: str, *, type_: str | None = None, param: str | None = None,
              code: Any = None) -> dict[str, Any]:
        kind = type_ or {400: "invalid_request_error", 404: "not_found_error"}.get(status, "api_error")
        return {"error": {"message": message, "type": kind, "param": None, "code": None}}

    def check(self, body: dict[str, Any], headers: dict[str, str]) -> None:
        if body.get("model") not in (self.model, self.model.split(":")[0]):
            raise _Reject(404, self.error(404, f"model \"{body.get('model')}\" not found, try pulling it first"))

    def constraint(self, body: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
        rf = body.get("response_format")
        kind = str(rf.get("type", "")).strip().lower() if isinstance(rf, dict) else ""
        if kind == "json_object":
            return ANY_JSON, None
        if kind == "json_schema":
            schema = _schema_in_format(body)
            return (SCHEMA, schema) if schema is not None else (TEXT, None)
        return TEXT, None

    def fit_prompt(self, body: dict[str, Any], prompt_tokens: int) -> tuple[list[dict[str, Any]], int]:
        messages = list(body.get("messages") or [])
        if prompt_tokens < self.num_ctx:
            return messages, prompt_tokens
        # "truncating input prompt": keep the newest tokens; the system prompt goes first.
        budget = self.num_ctx - 16
        kept: list[dict[str, Any]] = []
        for m in reversed(messages):
            text = message_text(m)
            cost = estimate_tokens(text) + 4
            if cost <= budget:
                kept.insert(0, m)
                budget -= cost
            elif budget > 8:
                kept.insert(0, {**m, "content": text[-(budget - 4) * 4:]})
                budget = 0
        return kept, self.num_ctx - 16 - budget

    def output_limit(self, body: dict[str, Any], prompt_tokens: int) -> int | None:
        asked = body.get("max_tokens")
        room = self.num_ctx - prompt_tokens
        return min(int(asked), room) if asked else room

    def completion_extra(self) -> dict[str, Any]:
        return {"system_fingerprint": "fp_ollama"}

    def failure(self, kind: str) -> _Reject:
        if kind == "server_error":
            return _Reject(500, self.error(500, "llama runner process has terminated: exit status 2"), kind)
        if kind == "overloaded":
            return _Reject(503, self.error(503, "server busy, please try again.  maximum pending requests "
                                                "exceeded"), kind)
        return super().failure(kind)

    def other_route(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        if method == "POST" and path == "/api/show":
            arch = "llama"
            return 200, {
                "modelfile": f"FROM {self.model}\n",
                "parameters": "stop \"<|im_start|>\"\nstop \"<|im_end|>\"",
                "template": "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}",
                "details": {"parent_model": "", "format": "gguf", "family": arch, "families": [arch],
                            "parameter_size": "134.52M", "quantization_level": "F16"},
                "model_info": {"general.architecture": arch, "general.parameter_count": 134515008,
                               f"{arch}.context_length": self.context_length, f"{arch}.embedding_length": 576},
                "capabilities": ["completion"],
            }
        if method == "GET" and path == "/api/version":
            return 200, {"version": "0.13.5"}
        return None


# ------------------------------------------------------------------------------------------
# OpenAI
# ------------------------------------------------------------------------------------------


class OpenAIServer(FamilyServer):
    """The OpenAI API itself, as far as chat completions go.

    Strict structured outputs: root an object, every object `additionalProperties: false` and every
    property required, no allOf/not/if/then/else/dependent*; anything else is a 400 that names the
    place (`In context=(...)`). Prompt caching: prompts of 1024+ tokens whose start repeats an
    earlier prompt report that prefix (in steps of 128) as cached_tokens. `reasoning=True` acts like
    o-series/gpt-5 models: max_tokens and a temperature other than 1 are refused.
    """

    family = "openai"
    default_model = "gpt-4o-mini"
    default_parallel = None

    def __init__(self, *, api_key: str | None = "test-key", reasoning: bool = False, retry_after: float = 0.05,
                 **kw: Any):
        super().__init__(context_tokens=128_000, **kw)
        self.api_key = api_key
        self.reasoning = reasoning
        self.retry_after = retry_after
        self._prefixes: list[str] = []

    def models_payload(self) -> dict[str, Any]:
        return {"object": "list", "data": [{"id": self.model, "object": "model", "created": 1721172741,
                                            "owned_by": "system"}]}

    def authorize(self, headers: dict[str, str]) -> None:
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            given = headers.get("authorization", "").removeprefix("Bearer ")
            raise _Reject(401, self.error(401, f"Incorrect API key provided: {given[:3]}***. You can find your "
                                               "API key at https://platform.openai.com/account/api-keys.",
                                          code="invalid_api_key"))

    def check(self, body: dict[str, Any], headers: dict[str, str]) -> None:
        if self.reasoning and body.get("max_tokens") is not None:
            raise _Reject(400, self.error(400, "Unsupported parameter: 'max_tokens' is not supported with this "
                                               "model. Use 'max_completion_tokens' instead.", param="max_tokens",
                                          code="unsupported_parameter"))
        if self.reasoning and body.get("temperature") not in (None, 1, 1.0):
            raise _Reject(400, self.error(400, f"Unsupported value: 'temperature' does not support "
                                               f"{body.get('temperature')} with this model. Only the default (1) "
                                               "value is supported.", param="temperature",
                                          code="unsupported_value"))
        rf = body.get("response_format")
        if not isinstance(rf, dict):
            return
        if rf.get("type") == "json_object":
            if "json" not in json.dumps(body.get("messages") or []).lower():
                raise _Reject(400, self.error(400, "'messages' must contain the word 'json' in some form, to use "
                                                   "'response_format' of type 'json_object'.",
                                              param="messages"))
        elif rf.get("type") == "json_schema":
            js = rf.get("json_schema")
            if not isinstance(js, dict) or not js.get("name"):
                raise _Reject(400, self.error(400, "Missing required parameter: 'response_format.json_schema.name'.",
                                              param="response_format.json_schema.name",
                                              code="missing_required_parameter"))
            if js.get("strict"):
                problem = strict_schema_problem(js.get("schema") or {})
                if problem:
                    raise _Reject(400, self.error(400, f"Invalid schema for response_format '{js['name']}': {problem}",
                                                  param="response_format"))
        elif rf.get("type") != "text":
            raise _Reject(400, self.error(400, f"Invalid value: '{rf.get('type')}'. Supported values are: 'text', "
                                               "'json_object', and 'json_schema'.", param="response_format.type",
                                          code="invalid_value"))

    def constraint(self, body: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
        schema = _schema_in_format(body)
        if schema is not None:
            return SCHEMA, schema  # non-strict schemas are followed closely by capable models too
        rf = body.get("response_format")
        if isinstance(rf, dict) and rf.get("type") == "json_object":
            return ANY_JSON, None
        return TEXT, None

    def usage(self, prompt_tokens: int, completion_tokens: int, body: dict[str, Any]) -> dict[str, Any]:
        prompt = json.dumps(body.get("messages") or [])
        cached = 0
        with self._lock:
            if prompt_tokens >= 1024:
                for earlier in self._prefixes:
                    common = _common_prefix(prompt, earlier)
                    cached = max(cached, (estimate_tokens(prompt[:common]) // 128) * 128 if common else 0)
            self._prefixes.append(prompt)
        cached = min(cached, prompt_tokens)
        return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                              "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}

    def completion_extra(self) -> dict[str, Any]:
        return {"system_fingerprint": "fp_fake0001", "service_tier": "default"}

    def success_headers(self, elapsed: float) -> dict[str, str]:
        return {"openai-processing-ms": str(int(elapsed * 1000)), "openai-version": "2020-10-01",
                "x-request-id": f"req_{uuid.uuid4().hex}", "x-ratelimit-limit-requests": "5000",
                "x-ratelimit-remaining-requests": "4999", "x-ratelimit-reset-requests": "12ms"}

    def failure(self, kind: str) -> _Reject:
        if kind == "rate_limit":
            ms = max(1, int(self.retry_after * 1000))
            return _Reject(429, self.error(429, f"Rate limit reached for {self.model} in organization org-fake on "
                                                f"tokens per min (TPM): Limit 200000, Used 199500, Requested 1500. "
                                                f"Please try again in {ms}ms.", type_="tokens",
                                           code="rate_limit_exceeded"), kind,
                           {"retry-after": str(max(1, round(self.retry_after))), "retry-after-ms": str(ms),
                            "x-ratelimit-limit-tokens": "200000", "x-ratelimit-remaining-tokens": "500",
                            "x-ratelimit-reset-tokens": f"{ms}ms"})
        if kind == "server_error":
            return _Reject(500, self.error(500, "The server had an error while processing your request. Sorry "
                                                "about that!", type_="server_error"), kind)
        if kind == "overloaded":
            return _Reject(503, self.error(503, "The engine is currently overloaded, please try again later.",
                                           type_="server_error"), kind)
        return super().failure(kind)

    def quota_exhausted(self) -> None:
        """From now on answer 429 insufficient_quota: retrying never helps."""
        def refuse(body: dict[str, Any], headers: dict[str, str]) -> None:
            raise _Reject(429, self.error(429, "You exceeded your current quota, please check your plan and "
                                               "billing details.", type_="insufficient_quota",
                                          code="insufficient_quota"), "quota")
        self.check = refuse  # type: ignore[method-assign]


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


_STRICT_FORBIDDEN = ("allOf", "not", "if", "then", "else", "dependentRequired", "dependentSchemas")


def strict_schema_problem(schema: dict[str, Any]) -> str | None:
    """The first reason OpenAI's strict mode would refuse this schema, worded like the API."""
    if schema.get("type") != "object" or "anyOf" in schema:
        return f"schema must be a JSON Schema of 'type: \"object\"', got 'type: \"{schema.get('type')}\"'."

    def walk(node: Any, where: tuple[str, ...]) -> str | None:
        if isinstance(node, list):
            for i, item in enumerate(node):
                found = walk(item, where + (str(i),))
                if found:
                    return found
            return None
        if not isinstance(node, dict):
            return None
        ctx = "In context=" + (repr(where) if len(where) != 1 else f"('{where[0]}',)")
        for key in _STRICT_FORBIDDEN:
            if key in node:
                return f"{ctx}, '{key}' is not permitted."
        if "default" in node:
            return f"{ctx}, 'default' is not permitted."
        if node.get("type") == "object" or "properties" in node:
            if node.get("additionalProperties") is not False:
                return f"{ctx}, 'additionalProperties' is required to be supplied and to be false."
            props = list((node.get("properties") or {}).keys())
            missing = [p for p in props if p not in (node.get("required") or [])]
            if missing:
                return (f"{ctx}, 'required' is required to be supplied and to be an array including every key "
                        f"in properties. Missing '{missing[0]}'.")
        for key, value in node.items():
            if key in ("properties", "$defs", "definitions") and isinstance(value, dict):
                for name, sub in value.items():
                    found = walk(sub, where + (key, name))
                    if found:
                        return found
            elif key in ("items", "anyOf", "prefixItems"):
                found = walk(value, where + (key,))
                if found:
                    return found
        return None

    return walk(schema, ())


FAMILIES: dict[str, type[FamilyServer]] = {
    "llama.cpp": LlamaCppServer,
    "llama-server": LlamaServerCpp,
    "vllm": VLLMServer,
    "ollama": OllamaServer,
    "openai": OpenAIServer,
}


def all_families(**kw: Any) -> Iterator[FamilyServer]:
    """One unstarted server per family with the same knobs."""
    for cls in FAMILIES.values():
        yield cls(**kw)
