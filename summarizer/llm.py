"""One small client for OpenAI-compatible chat endpoints that returns validated pydantic objects.

Why its own layer: endpoints differ (OpenAI takes a strict JSON schema; llama.cpp answers that
with HTTP 500 but takes a schema inside `json_object`; some servers only have JSON mode or plain
text), calls fail in many ways (429, 5xx, timeouts, refusals, truncation, invalid JSON), and
every call, failed or not, must be logged and paid for.

Which structured-output mode an endpoint supports is probed (`summarizer.capabilities`) and
remembered by the caller; when the chosen mode starts failing in a way that shows it is not
supported, the client marks it, re-probes the simpler modes and carries on in the next one.
"""
from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence, TypeVar

import httpx2
import openai
from pydantic import BaseModel, ValidationError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_none

from summarizer.budget import Budget, BudgetExhausted, Reservation
from summarizer.models import CallRecord
from summarizer.passages import count_tokens

if TYPE_CHECKING:
    from summarizer.capabilities import Capabilities

T = TypeVar("T", bound=BaseModel)

# Strongest first. json_object_schema is llama.cpp's form: {"type": "json_object", "schema": {...}}.
MODES = ("json_schema", "json_object_schema", "json_object", "text")
JSON_MODES = MODES[:3]
DEFAULT_BASE_URL = "https://api.openai.com/v1"

# USD per 1M tokens: (input, output, cached input). Callers override with current prices.
DEFAULT_PRICES: dict[str, tuple[float, float, float]] = {
    "gpt-4o-mini": (0.15, 0.60, 0.075),
    "gpt-4o": (2.50, 10.00, 1.25),
    "gpt-4.1-mini": (0.40, 1.60, 0.10),
    "gpt-4.1": (2.00, 8.00, 0.50),
}


# --- errors ------------------------------------------------------------------------------


class DraftingError(Exception):
    """Base of every drafting failure; `reason` is short enough to show an editor.

    `transient` says whether the same request could succeed later (timeouts, 5xx, 429),
    which decides whether a rerun asks again.
    """

    transient = False

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class LLMError(DraftingError):
    """The LLM call did not give us a usable answer."""


class LLMUnavailable(LLMError):
    """Network errors, timeouts, 429 or 5xx that outlasted the SDK's retries."""

    transient = True


class LLMRejected(LLMError):
    """The endpoint refused the request itself (auth, bad request): retrying will not help."""


class LLMRefused(LLMError):
    """The model declined to answer (`message.refusal`)."""


class LLMTruncated(LLMError):
    """The answer hit the output-token limit (`finish_reason == "length"`)."""


class LLMInvalidOutput(LLMError):
    """The answer was not valid JSON, or did not validate, even after re-asking."""


class LLMBudgetReached(DraftingError):
    """The nightly budget cannot cover another call."""


class ModeUnsupported(Exception):
    """The endpoint showed it does not support a structured-output mode (not a transient failure)."""

    def __init__(self, mode: str, reason: str):
        super().__init__(reason)
        self.mode, self.reason = mode, reason


# --- settings and helpers ----------------------------------------------------------------


@dataclass
class LLMSettings:
    model: str = "gpt-4o-mini"
    api_key: str | None = None
    base_url: str | None = None  # None: the SDK's default endpoint
    timeout: float = 60.0  # the floor per request; longer prompts on slow servers get more (see timeout_for)
    max_retries: int = 2  # SDK retries for 408/409/429/5xx/connection errors, honouring Retry-After
    reask_attempts: int = 2  # extra requests after invalid or truncated output
    temperature: float = 0.3
    max_output_tokens: int = 1200
    output_tokens_param: str = "max_tokens"  # some endpoints want "max_completion_tokens"
    prices: dict[str, tuple[float, float, float]] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    concurrency: int = 4  # in-flight requests per client (a serial server gets 1, see capabilities)
    mode: str | None = None  # force a structured-output mode instead of probing


def price_for(model: str, prices: dict[str, tuple[float, float, float]]) -> tuple[float, float, float] | None:
    """Exact match, else the longest table key the model name starts with (dated snapshots)."""
    if model in prices:
        return prices[model]
    keys = [k for k in prices if model.startswith(k)]
    return prices[max(keys, key=len)] if keys else None


def cost_usd(model: str, input_tokens: int, output_tokens: int, cached_tokens: int,
             prices: dict[str, tuple[float, float, float]]) -> float:
    price = price_for(model, prices)
    if price is None:
        return 0.0
    p_in, p_out, p_cached = price
    uncached = max(input_tokens - cached_tokens, 0)
    return (uncached * p_in + cached_tokens * p_cached + output_tokens * p_out) / 1_000_000


def strict_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """Pydantic's schema made acceptable to strict structured outputs: every property required,
    no extra properties, no defaults (optional fields stay nullable)."""
    schema = model.model_json_schema()

    def fix(node: Any) -> None:
        if isinstance(node, dict):
            node.pop("default", None)
            if node.get("type") == "object" and isinstance(node.get("properties"), dict):
                node["additionalProperties"] = False
                node["required"] = list(node["properties"])
                for sub in node["properties"].values():
                    fix(sub)
            for key, value in node.items():
                if key != "properties":
                    fix(value)
        elif isinstance(node, list):
            for item in node:
                fix(item)

    fix(schema)
    return schema


def response_format(mode: str, name: str, schema: dict[str, Any]) -> dict[str, Any] | None:
    """The `response_format` body for a mode (None: plain text, the schema is only in the prompt)."""
    if mode == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}
    if mode == "json_object_schema":
        return {"type": "json_object", "schema": schema}
    if mode == "json_object":
        return {"type": "json_object"}
    return None


def _outline(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> str:
    """A schema's shape in a few words ("{a, b: [{c, d}]}"), for servers that enforce the schema
    themselves: the model needs the field names, not a thousand tokens of enums to read slowly."""
    defs = schema.get("$defs", {}) if defs is None else defs
    if "$ref" in schema:
        return _outline(defs.get(schema["$ref"].rsplit("/", 1)[-1], {}), defs)
    if schema.get("type") == "array" or "items" in schema:
        return f"[{_outline(schema.get('items') or {}, defs)}]"
    props = schema.get("properties")
    if isinstance(props, dict):
        inner = [k if _outline(v, defs) == "" else f"{k}: {_outline(v, defs)}" for k, v in props.items()]
        return "{" + ", ".join(inner) + "}"
    for key in ("anyOf", "oneOf"):
        for option in schema.get(key) or []:
            shape = _outline(option, defs)
            if shape:
                return shape
    return ""


def with_schema_instruction(messages: Sequence[dict[str, Any]], schema: dict[str, Any], *,
                            enforced: bool = False) -> list[dict[str, Any]]:
    """Messages with the reply's shape in the system message: the whole schema where the server does
    not enforce it, only its outline where it does (json_object with a schema)."""
    out = [dict(m) for m in messages]
    if enforced:
        instruction = f"Reply with a single JSON object of this shape: {_outline(schema)}"
    else:
        instruction = ("Reply with a single JSON object, and nothing else, that validates against this JSON Schema:\n"
                       + json.dumps(schema, ensure_ascii=False))
    if out and out[0]["role"] == "system":
        out[0]["content"] = f"{out[0]['content']}\n\n{instruction}"
    else:
        out.insert(0, {"role": "system", "content": instruction})
    return out


_FENCE = re.compile(r"^```[a-zA-Z]*\s*\n?(.*?)\n?```\s*$", re.DOTALL)


def extract_json(content: str) -> Any:
    """Parse JSON from a reply, tolerating code fences and prose around one object."""
    text = content.strip()
    m = _FENCE.match(text)
    if m:
        text = m.group(1).strip()
    if not text.startswith("{"):
        start, end = text.find("{"), text.rfind("}")
        if start == -1 or end <= start:
            raise LLMInvalidOutput("invalid JSON: the reply contains no complete JSON object")
        text = text[start : end + 1]
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise LLMInvalidOutput(f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


def parse_output(content: str, schema: type[T], validate: Callable[[T], None] | None = None) -> T:
    data = extract_json(content)
    try:
        value = schema.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in exc.errors()[:5])
        raise LLMInvalidOutput(f"JSON does not match the schema: {problems}") from None
    if validate is not None:
        try:
            validate(value)
        except ValueError as exc:
            raise LLMInvalidOutput(str(exc)) from None
    return value


def messages_text(messages: Sequence[dict[str, Any]]) -> str:
    return "\n\n".join(f"[{m['role']}]\n{m.get('content') or ''}" for m in messages)


_FORMAT_WORDS = ("response_format", "json_schema", "json_object", "schema", "grammar", "guided", "structured output",
                 "not supported", "unsupported", "format")


def format_rejection(exc: openai.APIStatusError, mode: str) -> str | None:
    """Why an error shows that `mode` is unsupported, or None when it says nothing about the format.

    Decided on the message, not the status alone: llama.cpp answers an unknown response_format
    with 500, others with 400 or 422; a bare 500 ("server had an error") is not evidence.
    """
    if mode == "text" or exc.status_code not in (400, 404, 415, 422, 500, 501):
        return None
    text = f"{exc.message} {exc.body}".lower()
    if any(w in text for w in _FORMAT_WORDS):
        return f"{mode} not supported: HTTP {exc.status_code}: {' '.join(str(exc.message).split())[:200]}"
    return None


# --- the client --------------------------------------------------------------------------


@dataclass
class RawReply:
    """One chat completion as the server sent it, before any parsing."""

    content: str | None
    refusal: str | None
    finish_reason: str | None
    usage: Any
    latency: float


class LLMClient:
    """Async structured-output calls with retries, re-asks, mode fallback, budget and call records."""

    def __init__(
        self,
        settings: LLMSettings,
        *,
        http_client: httpx2.AsyncClient | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        modes: dict[str, str] | None = None,
        capabilities: "Capabilities | None" = None,
        close_http: bool = False,
    ):
        self.settings = settings
        self.modes: dict[str, str] = modes if modes is not None else {}
        self.capabilities = capabilities
        self.probe_records: list[CallRecord] = []  # calls made to probe the endpoint (no story)
        self.changed = False  # capabilities changed during this client's life: the caller saves them
        self._owns_http = http_client is None or close_http  # close it with this client
        if http_client is None:
            # Callers normally pass the client from extractors.http.build_async_client; this is the
            # same factory, imported late so the summarizer does not need the extractors to load.
            from extractors.http import HttpSettings, build_async_client

            http_client = build_async_client(
                HttpSettings(read_timeout=settings.timeout, total_timeout=settings.timeout), transport
            )
        self.http_client = http_client
        self.client = openai.AsyncOpenAI(
            api_key=settings.api_key or "not-needed",
            base_url=settings.base_url,
            http_client=http_client,
            max_retries=settings.max_retries,
            timeout=settings.timeout,
        )
        self._slots = asyncio.Semaphore(max(1, self.concurrency))
        self._probe_lock = asyncio.Lock()
        self._ignored: dict[str, int] = {}

    @property
    def model(self) -> str:
        return self.settings.model

    @property
    def base_url(self) -> str:
        return (self.settings.base_url or DEFAULT_BASE_URL).rstrip("/")

    @property
    def endpoint_key(self) -> str:
        return f"{self.base_url}|{self.settings.model}"

    @property
    def concurrency(self) -> int:
        """Requests in flight at once: the setting, or 1 for a server the probe found serial."""
        caps = self.capabilities
        if caps is not None and caps.parallel is False:
            return 1
        return max(1, self.settings.concurrency)

    @property
    def mode(self) -> str | None:
        """The structured-output mode requests use now (None until probed)."""
        if self.settings.mode:
            return self.settings.mode
        if self.capabilities is not None and self.capabilities.mode:
            return self.capabilities.mode
        return self.modes.get(self.endpoint_key)

    async def aclose(self) -> None:
        await self.client.close()
        if self._owns_http:
            await self.http_client.aclose()

    async def __aenter__(self) -> "LLMClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def estimate_tokens(self, messages: Sequence[dict[str, Any]]) -> int:
        """Worst case for one request: the prompt plus the full output allowance."""
        return count_tokens(messages_text(messages), self.settings.model) + self.settings.max_output_tokens

    def estimate_cost(self, tokens_in: int, tokens_out: int) -> float:
        return cost_usd(self.settings.model, tokens_in, tokens_out, 0, self.settings.prices)

    def timeout_for(self, prompt_tokens: int, output_tokens: int) -> float:
        """Seconds to wait for one request: the configured floor, or what the probed speed says a
        prompt of this size needs (twice over), whichever is longer. A slow local model needs minutes."""
        caps = self.capabilities
        if caps is None:
            return self.settings.timeout
        return max(self.settings.timeout, caps.expected_seconds(prompt_tokens, output_tokens) * 2.5)

    # --- probing ---------------------------------------------------------------------

    async def ensure_probed(self) -> None:
        """Probe the endpoint once (others wait) when no mode is known yet."""
        if self.mode is not None:
            return
        async with self._probe_lock:
            if self.mode is None:
                await self._probe()

    async def _probe(self) -> None:
        from summarizer.capabilities import probe

        self.capabilities = await probe(self, previous=self.capabilities, records=self.probe_records)
        self.modes[self.endpoint_key] = self.capabilities.mode or "text"
        if self.capabilities.mode is None:
            self.capabilities.mode = "text"
        self._slots = asyncio.Semaphore(self.concurrency)
        self.changed = True

    async def _mode_failed(self, failed: str, reason: str) -> str:
        """`failed` showed it is unsupported: remember that, re-probe the simpler modes, return the next."""
        async with self._probe_lock:
            if self.mode != failed:  # another request already moved on
                return self.mode or "text"
            if self.settings.mode:
                raise LLMRejected(reason)
            from summarizer.capabilities import Capabilities

            if self.capabilities is None:
                self.capabilities = Capabilities(base_url=self.base_url, model=self.model)
            self.capabilities.mark_unsupported(failed, reason)
            self.capabilities.mode = None
            await self._probe()
            return self.mode or "text"

    # --- requests --------------------------------------------------------------------

    async def generate(
        self,
        messages: Sequence[dict[str, Any]],
        schema: type[T],
        *,
        prompt_version: str,
        purpose: str = "draft",
        records: list[CallRecord] | None = None,
        validate: Callable[[T], None] | None = None,
        budget: Budget | None = None,
        json_schema: dict[str, Any] | None = None,
    ) -> T:
        """Ask for an object of `schema`; re-ask (within limits) when the reply does not validate.

        `json_schema` is what the server is asked to follow (default: `schema`'s strict schema);
        it may be narrower, e.g. citations limited to the sources shown. Appends one CallRecord per
        request to `records`. Raises a DraftingError subclass.
        """
        records = records if records is not None else []
        wire_schema = json_schema or strict_json_schema(schema)
        convo: list[dict[str, Any]] = [dict(m) for m in messages]
        retrying = AsyncRetrying(
            stop=stop_after_attempt(1 + max(0, self.settings.reask_attempts)),
            retry=retry_if_exception_type((LLMInvalidOutput, LLMTruncated)),
            wait=wait_none(),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                content, mode = await self._complete(convo, schema.__name__, wire_schema, prompt_version, purpose,
                                                     records, budget)
                try:
                    value = parse_output(content, schema, validate)
                except LLMInvalidOutput as exc:
                    records[-1].status = "error"
                    records[-1].error = exc.reason
                    await self._note_ignored_format(mode, exc)
                    convo = convo + [
                        {"role": "assistant", "content": content},
                        {"role": "user", "content": f"Your reply could not be used: {exc.reason}. "
                         "Reply again with only the corrected JSON object."},
                    ]
                    raise
                self._ignored.pop(mode, None)
                return value
        raise AssertionError("unreachable")  # pragma: no cover

    async def _note_ignored_format(self, mode: str, exc: LLMInvalidOutput) -> None:
        """A JSON mode whose replies are not JSON at all, twice running, is not really supported."""
        if mode not in JSON_MODES or not exc.reason.startswith("invalid JSON: the reply contains no"):
            return
        self._ignored[mode] = self._ignored.get(mode, 0) + 1
        if self._ignored[mode] >= 2 and not self.settings.mode:
            await self._mode_failed(mode, f"{mode}: replies ignored the format (no JSON object)")

    async def _complete(self, convo: list[dict[str, Any]], name: str, schema: dict[str, Any], prompt_version: str,
                        purpose: str, records: list[CallRecord], budget: Budget | None) -> tuple[str, str]:
        """One logical request in the current mode, moving to the next mode if this one proves unsupported."""
        await self.ensure_probed()
        for _ in MODES:
            mode = self.mode or "text"
            try:
                return await self._request(mode, convo, name, schema, prompt_version, purpose, records, budget), mode
            except ModeUnsupported as exc:
                await self._mode_failed(mode, exc.reason)
        raise LLMRejected("the endpoint rejected every structured-output mode")

    def request_kwargs(self, mode: str, convo: Sequence[dict[str, Any]], name: str, schema: dict[str, Any] | None,
                       max_tokens: int | None = None) -> dict[str, Any]:
        """The chat request for a mode; `schema` None asks for plain text (speed probes)."""
        if schema is None:
            mode = "text"
            messages = [dict(m) for m in convo]
        elif mode == "json_schema":
            messages = [dict(m) for m in convo]
        else:
            messages = with_schema_instruction(convo, schema, enforced=mode == "json_object_schema")
        kwargs: dict[str, Any] = {
            "model": self.settings.model,
            "messages": messages,
            "temperature": self.settings.temperature,
            self.settings.output_tokens_param: max_tokens or self.settings.max_output_tokens,
        }
        fmt = response_format(mode, name, schema) if schema is not None else None
        if fmt is not None:
            kwargs["response_format"] = fmt
        return kwargs

    async def raw_request(self, kwargs: dict[str, Any], record: CallRecord, *, timeout: float | None = None) -> RawReply:
        """Send one chat completion and fill `record` (tokens, cost, latency, errors) whatever happens.

        Raises ModeUnsupported, LLMUnavailable or LLMRejected; the record says the same.
        """
        record.request_text = messages_text(kwargs["messages"])
        prompt_tokens = count_tokens(record.request_text, self.settings.model)
        started = time.monotonic()
        try:
            async with self._slots:
                started = time.monotonic()  # waiting for a slot is not the server's latency
                response = await self.client.chat.completions.create(
                    **kwargs, timeout=timeout or self.timeout_for(prompt_tokens, kwargs.get(self.settings.output_tokens_param) or 0))
        except openai.APIStatusError as exc:
            status = exc.status_code
            mode = _mode_of(kwargs)
            unsupported = format_rejection(exc, mode)
            if unsupported:
                self._finish(record, started, prompt_tokens, error=unsupported)
                raise ModeUnsupported(mode, unsupported) from exc
            if status == 429:
                reason = f"rate limited (HTTP 429) after {self.settings.max_retries} retries"
            elif status >= 500:
                detail = " ".join(str(exc.message).split())[:160]
                reason = f"server error (HTTP {status}) after {self.settings.max_retries} retries: {detail}"
            else:
                reason = f"request rejected (HTTP {status}): {exc.message}"
            self._finish(record, started, prompt_tokens, error=reason)
            raise (LLMUnavailable if status in (408, 409, 429) or status >= 500 else LLMRejected)(reason) from exc
        except openai.APIConnectionError as exc:  # includes APITimeoutError
            if isinstance(exc, openai.APITimeoutError):
                reason = f"LLM request timed out after {self.settings.max_retries} retries"
            else:
                reason = f"LLM connection failed after {self.settings.max_retries} retries"
            self._finish(record, started, prompt_tokens, error=reason)
            raise LLMUnavailable(reason) from exc
        except BaseException:
            self._finish(record, started, prompt_tokens, error="cancelled")
            raise
        latency = time.monotonic() - started
        self._finish(record, started, prompt_tokens, usage=response.usage)
        if not response.choices:
            return RawReply(None, None, None, response.usage, latency)
        choice = response.choices[0]
        message = choice.message
        content, refusal = message.content, getattr(message, "refusal", None)
        record.response_text = content or refusal or ""
        if response.usage is None:  # count what came back too, so the night's tokens stay honest
            record.output_tokens = count_tokens(record.response_text, self.settings.model)
            record.cost_usd = cost_usd(self.settings.model, record.input_tokens, record.output_tokens, 0,
                                       self.settings.prices)
        return RawReply(content, refusal, choice.finish_reason, response.usage, latency)

    async def _request(self, mode: str, convo: list[dict[str, Any]], name: str, schema: dict[str, Any],
                       prompt_version: str, purpose: str, records: list[CallRecord], budget: Budget | None) -> str:
        kwargs = self.request_kwargs(mode, convo, name, schema)
        record = CallRecord(model=self.settings.model, prompt_version=prompt_version, purpose=purpose, mode=mode)
        reservation: Reservation | None = None
        if budget is not None:
            prompt_tokens = count_tokens(messages_text(kwargs["messages"]), self.settings.model)
            out_tokens = self.settings.max_output_tokens
            try:
                reservation = await budget.reserve_async(prompt_tokens + out_tokens,
                                                         self.estimate_cost(prompt_tokens, out_tokens))
            except BudgetExhausted as exc:
                raise LLMBudgetReached(budget.exhausted_message()) from exc
        try:
            reply = await self.raw_request(kwargs, record)
        finally:
            records.append(record)
            if budget is not None:
                budget.settle(reservation, record)
        if reply.content is None and reply.refusal is None and reply.finish_reason is None:
            record.status, record.error = "error", "empty response (no choices)"
            raise LLMInvalidOutput(record.error)
        if reply.refusal:
            record.status, record.error = "error", f"model refused: {reply.refusal}"
            raise LLMRefused(record.error)
        if reply.finish_reason == "length":
            record.status = "error"
            record.error = f"output truncated at {self.settings.max_output_tokens} tokens (finish_reason=length)"
            convo.append({"role": "user", "content": "Your previous reply was cut off at the length limit. "
                          "Reply with a shorter JSON object: fewer and shorter sentences."})
            raise LLMTruncated(record.error)
        if reply.finish_reason == "content_filter":
            record.status, record.error = "error", "output blocked by the content filter"
            raise LLMRefused(record.error)
        if not reply.content:
            record.status, record.error = "error", "empty reply"
            raise LLMInvalidOutput(record.error)
        return reply.content

    def _finish(self, record: CallRecord, started: float, prompt_tokens: int, *, usage: Any = None,
                error: str | None = None) -> None:
        """Latency, tokens and cost of one request. Without `usage` from the server (errors, timeouts,
        servers that never report it) the prompt is counted by us and the record says so."""
        record.latency_ms = int((time.monotonic() - started) * 1000)
        if usage is not None and (usage.prompt_tokens or usage.completion_tokens):
            record.input_tokens = usage.prompt_tokens or 0
            record.output_tokens = usage.completion_tokens or 0
            details = getattr(usage, "prompt_tokens_details", None)
            record.cached_tokens = (getattr(details, "cached_tokens", None) or 0) if details else 0
        else:
            record.input_tokens, record.output_tokens, record.cached_tokens = prompt_tokens, 0, 0
            record.estimated = True
        record.cost_usd = cost_usd(self.settings.model, record.input_tokens, record.output_tokens,
                                   record.cached_tokens, self.settings.prices)
        if error is not None:
            record.status, record.error = "error", error


def _mode_of(kwargs: dict[str, Any]) -> str:
    fmt = kwargs.get("response_format")
    if not isinstance(fmt, dict):
        return "text"
    if fmt.get("type") == "json_schema":
        return "json_schema"
    return "json_object_schema" if "schema" in fmt else "json_object"
