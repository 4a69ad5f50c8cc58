"""One small client for OpenAI-compatible chat endpoints that returns validated pydantic objects.

Why its own layer: endpoints differ (OpenAI supports strict JSON schema, many local servers
only JSON mode or plain text), calls fail in many ways (429, 5xx, timeouts, refusals,
truncation, invalid JSON), and every call, failed or not, must be logged and paid for.
The structured-output mode is probed once per endpoint (base_url + model) and remembered
in `LLMClient.modes`, a plain dict the caller may persist and pass back in.
"""
from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence, TypeVar

import httpx2
import openai
from pydantic import BaseModel, ValidationError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_none

from summarizer.budget import Budget, BudgetExhausted, Reservation
from summarizer.models import CallRecord
from summarizer.passages import count_tokens

T = TypeVar("T", bound=BaseModel)

MODES = ("json_schema", "json_object", "text")
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
    """Base of every drafting failure; `reason` is short enough to show an editor."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class LLMError(DraftingError):
    """The LLM call did not give us a usable answer."""


class LLMUnavailable(LLMError):
    """Network errors, timeouts, 429 or 5xx that outlasted the SDK's retries."""


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


class _ModeUnsupported(Exception):
    """The endpoint rejected our response_format: try the next, simpler mode."""


# --- settings and helpers ----------------------------------------------------------------


@dataclass
class LLMSettings:
    model: str = "gpt-4o-mini"
    api_key: str | None = None
    base_url: str | None = None  # None: the SDK's default endpoint
    timeout: float = 60.0
    max_retries: int = 2  # SDK retries for 408/409/429/5xx/connection errors, honouring Retry-After
    reask_attempts: int = 2  # extra requests after invalid or truncated output
    temperature: float = 0.3
    max_output_tokens: int = 1200
    output_tokens_param: str = "max_tokens"  # some endpoints want "max_completion_tokens"
    prices: dict[str, tuple[float, float, float]] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    concurrency: int = 4  # in-flight requests per client
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


def _messages_text(messages: Sequence[dict[str, Any]]) -> str:
    return "\n\n".join(f"[{m['role']}]\n{m.get('content') or ''}" for m in messages)


def _looks_like_format_rejection(exc: openai.APIStatusError) -> bool:
    text = f"{exc.message} {exc.body}".lower()
    return any(w in text for w in ("response_format", "json_schema", "json_object", "schema", "not supported", "unsupported"))


# --- the client --------------------------------------------------------------------------


class LLMClient:
    """Async structured-output calls with retries, re-asks, mode fallback, budget and call records."""

    def __init__(
        self,
        settings: LLMSettings,
        *,
        http_client: httpx2.AsyncClient | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        modes: dict[str, str] | None = None,
    ):
        self.settings = settings
        self.modes: dict[str, str] = modes if modes is not None else {}
        self._owns_http = http_client is None
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
        self._slots = asyncio.Semaphore(max(1, settings.concurrency))
        self._probe_lock = asyncio.Lock()

    @property
    def model(self) -> str:
        return self.settings.model

    @property
    def endpoint_key(self) -> str:
        return f"{(self.settings.base_url or DEFAULT_BASE_URL).rstrip('/')}|{self.settings.model}"

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
        return count_tokens(_messages_text(messages), self.settings.model) + self.settings.max_output_tokens

    def estimate_cost(self, tokens_in: int, tokens_out: int) -> float:
        return cost_usd(self.settings.model, tokens_in, tokens_out, 0, self.settings.prices)

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
    ) -> T:
        """Ask for an object of `schema`; re-ask (within limits) when the reply does not validate.

        Appends one CallRecord per request to `records`. Raises a DraftingError subclass.
        """
        records = records if records is not None else []
        convo: list[dict[str, Any]] = [dict(m) for m in messages]
        retrying = AsyncRetrying(
            stop=stop_after_attempt(1 + max(0, self.settings.reask_attempts)),
            retry=retry_if_exception_type((LLMInvalidOutput, LLMTruncated)),
            wait=wait_none(),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                content = await self._complete(convo, schema, prompt_version, purpose, records, budget)
                try:
                    return parse_output(content, schema, validate)
                except LLMInvalidOutput as exc:
                    records[-1].status = "error"
                    records[-1].error = exc.reason
                    convo = convo + [
                        {"role": "assistant", "content": content},
                        {"role": "user", "content": f"Your reply could not be used: {exc.reason}. "
                         "Reply again with only the corrected JSON object."},
                    ]
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _complete(self, convo: list[dict[str, Any]], schema: type[BaseModel], prompt_version: str,
                        purpose: str, records: list[CallRecord], budget: Budget | None) -> str:
        """One logical request: picks the mode, downgrading once if the endpoint rejects it."""
        key = self.endpoint_key
        if self.settings.mode:
            return await self._request(self.settings.mode, convo, schema, prompt_version, purpose, records, budget)
        if key not in self.modes:
            async with self._probe_lock:  # one request probes an unknown endpoint; the others wait for it
                if key not in self.modes:
                    return await self._with_fallback(MODES[0], convo, schema, prompt_version, purpose, records,
                                                     budget)
        return await self._with_fallback(self.modes[key], convo, schema, prompt_version, purpose, records, budget)

    async def _with_fallback(self, mode: str, convo: list[dict[str, Any]], schema: type[BaseModel],
                             prompt_version: str, purpose: str, records: list[CallRecord],
                             budget: Budget | None) -> str:
        key = self.endpoint_key
        for candidate in MODES[MODES.index(mode):]:
            try:
                content = await self._request(candidate, convo, schema, prompt_version, purpose, records, budget)
            except _ModeUnsupported:
                continue
            self.modes[key] = candidate
            return content
        raise LLMRejected("endpoint rejected every structured-output mode")

    def _request_kwargs(self, mode: str, convo: list[dict[str, Any]], schema: type[BaseModel]) -> dict[str, Any]:
        messages = [dict(m) for m in convo]
        if mode != "json_schema":
            instruction = (
                "Reply with a single JSON object, and nothing else, that validates against this JSON Schema:\n"
                + json.dumps(strict_json_schema(schema), ensure_ascii=False)
            )
            if messages and messages[0]["role"] == "system":
                messages[0]["content"] = f"{messages[0]['content']}\n\n{instruction}"
            else:
                messages.insert(0, {"role": "system", "content": instruction})
        kwargs: dict[str, Any] = {
            "model": self.settings.model,
            "messages": messages,
            "temperature": self.settings.temperature,
            self.settings.output_tokens_param: self.settings.max_output_tokens,
        }
        if mode == "json_schema":
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": schema.__name__, "schema": strict_json_schema(schema), "strict": True},
            }
        elif mode == "json_object":
            kwargs["response_format"] = {"type": "json_object"}
        return kwargs

    async def _request(self, mode: str, convo: list[dict[str, Any]], schema: type[BaseModel], prompt_version: str,
                       purpose: str, records: list[CallRecord], budget: Budget | None) -> str:
        kwargs = self._request_kwargs(mode, convo, schema)
        record = CallRecord(model=self.settings.model, prompt_version=prompt_version, purpose=purpose, mode=mode,
                            request_text=_messages_text(kwargs["messages"]))
        reservation: Reservation | None = None
        if budget is not None:
            prompt_tokens = count_tokens(_messages_text(kwargs["messages"]), self.settings.model)
            out_tokens = self.settings.max_output_tokens
            try:
                reservation = await budget.reserve_async(prompt_tokens + out_tokens,
                                                         self.estimate_cost(prompt_tokens, out_tokens))
            except BudgetExhausted as exc:
                raise LLMBudgetReached(budget.exhausted_message()) from exc
        started = time.monotonic()
        try:
            async with self._slots:
                response = await self.client.chat.completions.create(**kwargs)
        except openai.APIStatusError as exc:
            status = exc.status_code
            if status in (400, 422) and mode != "text" and _looks_like_format_rejection(exc):
                self._finish(record, started, error=f"{mode} not supported: HTTP {status}: {exc.message}")
                records.append(record)
                self._settle(budget, reservation, record)
                raise _ModeUnsupported() from exc
            if status == 429:
                reason = f"rate limited (HTTP 429) after {self.settings.max_retries} retries"
            elif status >= 500:
                reason = f"server error (HTTP {status}) after {self.settings.max_retries} retries"
            else:
                reason = f"request rejected (HTTP {status}): {exc.message}"
            self._finish(record, started, error=reason)
            records.append(record)
            self._settle(budget, reservation, record)
            raise (LLMUnavailable if status == 429 or status >= 500 else LLMRejected)(reason) from exc
        except openai.APIConnectionError as exc:  # includes APITimeoutError
            kind = "timed out" if isinstance(exc, openai.APITimeoutError) else "connection failed"
            reason = f"LLM request {kind} after {self.settings.max_retries} retries"
            self._finish(record, started, error=reason)
            records.append(record)
            self._settle(budget, reservation, record)
            raise LLMUnavailable(reason) from exc
        except BaseException:
            self._finish(record, started, error="cancelled")
            records.append(record)
            self._settle(budget, reservation, record)
            raise

        self._finish(record, started, usage=response.usage)
        records.append(record)
        self._settle(budget, reservation, record)
        if not response.choices:
            record.status, record.error = "error", "empty response (no choices)"
            raise LLMInvalidOutput(record.error)
        choice = response.choices[0]
        message = choice.message
        record.response_text = message.content or message.refusal or ""
        if getattr(message, "refusal", None):
            record.status, record.error = "error", f"model refused: {message.refusal}"
            raise LLMRefused(record.error)
        if choice.finish_reason == "length":
            record.status = "error"
            record.error = f"output truncated at {self.settings.max_output_tokens} tokens (finish_reason=length)"
            convo.append({"role": "user", "content": "Your previous reply was cut off at the length limit. "
                          "Reply with a shorter JSON object: fewer and shorter sentences."})
            raise LLMTruncated(record.error)
        if choice.finish_reason == "content_filter":
            record.status, record.error = "error", "output blocked by the content filter"
            raise LLMRefused(record.error)
        if not message.content:
            record.status, record.error = "error", "empty reply"
            raise LLMInvalidOutput(record.error)
        return message.content

    def _finish(self, record: CallRecord, started: float, *, usage: Any = None, error: str | None = None) -> None:
        record.latency_ms = int((time.monotonic() - started) * 1000)
        if usage is not None:
            record.input_tokens = usage.prompt_tokens or 0
            record.output_tokens = usage.completion_tokens or 0
            details = getattr(usage, "prompt_tokens_details", None)
            record.cached_tokens = (getattr(details, "cached_tokens", None) or 0) if details else 0
            record.cost_usd = cost_usd(self.settings.model, record.input_tokens, record.output_tokens,
                                       record.cached_tokens, self.settings.prices)
        if error is not None:
            record.status, record.error = "error", error

    @staticmethod
    def _settle(budget: Budget | None, reservation: Reservation | None, record: CallRecord) -> None:
        if budget is not None:
            budget.settle(reservation, record)
