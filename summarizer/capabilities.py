"""What an OpenAI-compatible endpoint can do, found by asking it, and remembered per (base URL, model).

Servers that all say "OpenAI-compatible" differ where drafting depends on them: OpenAI and vLLM
follow a strict `json_schema`; llama.cpp answers that with HTTP 500 but follows a schema given
inside `json_object`; others have only JSON mode, or nothing. Some report `usage`, some don't;
a small local model may serve one request at a time at a few tokens per second, where a 60 s
timeout and four parallel requests time out every story.

`probe` sends a handful of tiny requests and measures: which modes give schema-valid JSON,
whether usage is reported, the context size where `/v1/models` tells it, rough prompt and output
speed, and whether concurrent requests are served in parallel. The caller stores the result
(`to_dict`) and passes it back next time, so a night does not re-probe.
"""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from summarizer.models import CallRecord

if TYPE_CHECKING:
    from summarizer.llm import LLMClient

PROBE_VERSION = "probe.v1"
PROBE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "word": {"type": "string", "enum": ["ready"]},
        "number": {"type": "integer", "enum": [3]},
    },
    "required": ["word", "number"],
    "additionalProperties": False,
}
PROBE_ANSWER = {"word": "ready", "number": 3}
PROBE_MESSAGES = [
    {"role": "system", "content": "newsdesk capability probe. You answer with JSON only."},
    {"role": "user", "content": 'Reply with exactly this JSON object and nothing else: {"word": "ready", "number": 3}'},
]
# A long, dull prompt asking for one token: its latency is mostly reading the prompt.
_FILLER = " ".join(["The committee met on a weekday and discussed the budget for the library roof."] * 40)
PREFILL_MESSAGES = [
    {"role": "system", "content": "newsdesk capability probe."},
    {"role": "user", "content": _FILLER + "\nReply with the single word: ok"},
]
OUTPUT_MESSAGES = [
    {"role": "system", "content": "newsdesk capability probe."},
    {"role": "user", "content": "Count from 1 to 40, numbers separated by spaces, nothing else."},
]
PARALLEL_REQUESTS = 3
SERIAL_RATIO = 2.0  # three concurrent requests taking >= 2x one request: the server works one at a time
# Context-size fields seen in /v1/models answers: vLLM, llama.cpp's server, LM Studio / OpenRouter style.
_CONTEXT_FIELDS = ("max_model_len", "context_length", "context_window", "max_context_length", "n_ctx", "n_ctx_train")


@dataclass
class Capabilities:
    """One endpoint's measured abilities. `mode` is the structured-output mode drafting uses."""

    base_url: str
    model: str
    mode: str | None = None
    modes: dict[str, str] = field(default_factory=dict)  # mode -> "ok" or why it is not usable
    usage_reported: bool | None = None
    context_tokens: int | None = None
    prompt_tokens_per_second: float | None = None
    output_tokens_per_second: float | None = None
    parallel: bool | None = None
    probed_at: str | None = None

    @property
    def key(self) -> str:
        return f"{self.base_url}|{self.model}"

    def mark_unsupported(self, mode: str, reason: str) -> None:
        self.modes[mode] = reason

    def usable(self, mode: str) -> bool:
        return self.modes.get(mode, "ok") == "ok"

    def expected_seconds(self, prompt_tokens: int, output_tokens: int) -> float:
        """How long a request of this size should take at the measured speed (0 when unmeasured)."""
        seconds = 0.0
        if self.prompt_tokens_per_second:
            seconds += prompt_tokens / self.prompt_tokens_per_second
        if self.output_tokens_per_second:
            seconds += output_tokens / self.output_tokens_per_second
        return seconds

    def describe(self) -> str:
        """One line for run notes and `review list`."""
        parts = [f"mode {self.mode or 'unknown'}"]
        failed = [f"{m} ({why})" for m, why in self.modes.items() if why != "ok"]
        if failed:
            parts.append("not usable: " + "; ".join(failed))
        if self.context_tokens:
            parts.append(f"context {self.context_tokens:,} tokens")
        if self.output_tokens_per_second:
            parts.append(f"~{self.output_tokens_per_second:.0f} tokens/s out")
        if self.parallel is False:
            parts.append("serves one request at a time (concurrency 1)")
        if self.usage_reported is False:
            parts.append("reports no token usage (tokens counted by newsdesk)")
        return f"{self.model} at {self.base_url}: " + ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Capabilities":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def settings_key(base_url: str, model: str) -> str:
    """The key capabilities are stored under (one per base URL and model)."""
    return f"llm_capabilities|{base_url.rstrip('/')}|{model}"


def _context_from_models(entries: list[dict[str, Any]], model: str) -> int | None:
    chosen = next((e for e in entries if e.get("id") == model), entries[0] if len(entries) == 1 else None)
    if chosen is None:
        return None
    candidates = [chosen, chosen.get("meta") or {}, chosen.get("metadata") or {}]
    for where in candidates:
        for name in _CONTEXT_FIELDS:
            value = where.get(name) if isinstance(where, dict) else None
            if isinstance(value, (int, float)) and value > 0:
                return int(value)
    return None


async def _models(llm: "LLMClient") -> list[dict[str, Any]]:
    try:
        page = await llm.client.models.list()
    except Exception:  # many servers have no /models, or answer it oddly: not a reason to fail
        return []
    out = []
    for m in page.data:
        entry = m.model_dump()
        entry.update(m.model_extra or {})
        out.append(entry)
    return out


def _valid_probe_reply(content: str | None) -> bool:
    from summarizer.llm import LLMInvalidOutput, extract_json

    if not content:
        return False
    try:
        data = extract_json(content)
    except LLMInvalidOutput:
        return False
    return isinstance(data, dict) and data.get("word") == "ready" and str(data.get("number")) == "3"


async def _try(llm: "LLMClient", records: list[CallRecord], kwargs: dict[str, Any], mode: str | None, timeout: float):
    """One probe request; (reply or None, error reason or None)."""
    from summarizer.llm import DraftingError, ModeUnsupported

    record = CallRecord(model=llm.model, prompt_version=PROBE_VERSION, purpose="probe", mode=mode)
    records.append(record)
    try:
        return await llm.raw_request(kwargs, record, timeout=timeout), None
    except ModeUnsupported as exc:
        return None, exc.reason
    except DraftingError as exc:
        return None, exc.reason


async def probe(llm: "LLMClient", *, previous: Capabilities | None = None, records: list[CallRecord] | None = None,
                all_modes: bool = False, timeout: float | None = None) -> Capabilities:
    """Measure the endpoint behind `llm`. Modes already known to fail (in `previous`) are not retried.

    Without `all_modes`, probing stops at the first mode that answers with schema-valid JSON
    (what drafting needs); `newsdesk llm check` asks for all of them.
    """
    from summarizer.llm import MODES

    records = records if records is not None else []
    timeout = timeout or max(llm.settings.timeout, 120.0)
    caps = Capabilities(base_url=llm.base_url, model=llm.model)
    if previous is not None:
        caps.modes = {m: why for m, why in previous.modes.items() if why != "ok"}
    caps.context_tokens = _context_from_models(await _models(llm), llm.model)

    for mode in MODES:
        if not caps.usable(mode):
            continue
        kwargs = llm.request_kwargs(mode, PROBE_MESSAGES, "probe", PROBE_SCHEMA, max_tokens=40)
        reply, error = await _try(llm, records, kwargs, mode, timeout)
        if reply is None:
            caps.modes[mode] = error or "failed"
            if error and "timed out" in error:
                break  # a server too slow to answer a probe will not answer a draft either
            continue
        if reply.usage is not None and caps.usage_reported is None:
            caps.usage_reported = bool(reply.usage.prompt_tokens or reply.usage.completion_tokens)
        if not _valid_probe_reply(reply.content):
            caps.modes[mode] = "the reply ignored the requested format"
            records[-1].status, records[-1].error = "error", caps.modes[mode]
            continue
        caps.modes[mode] = "ok"
        if caps.mode is None:
            caps.mode = mode
            if not all_modes:
                break
    if caps.usage_reported is None:
        caps.usage_reported = False if records and all(r.estimated for r in records) else None

    if caps.mode is not None:
        await _measure_speed(llm, caps, records, timeout)
        caps.parallel = await _serves_in_parallel(llm, caps.mode, records, timeout)
    caps.probed_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return caps


async def _measure_speed(llm: "LLMClient", caps: Capabilities, records: list[CallRecord], timeout: float) -> None:
    """Rough prompt and output tokens per second from two requests (good enough to size timeouts)."""
    from summarizer.passages import count_tokens

    prefill, _ = await _try(llm, records, llm.request_kwargs("text", PREFILL_MESSAGES, "probe", None, max_tokens=2),
                            "text", timeout)
    out, _ = await _try(llm, records, llm.request_kwargs("text", OUTPUT_MESSAGES, "probe", None, max_tokens=80),
                        "text", timeout)
    if prefill is not None and prefill.latency > 0:
        tokens = count_tokens(PREFILL_MESSAGES[1]["content"], llm.model)
        caps.prompt_tokens_per_second = round(tokens / prefill.latency, 1)
    if out is not None and out.latency > 0:
        produced = (out.usage.completion_tokens if out.usage is not None and out.usage.completion_tokens
                    else count_tokens(out.content or "", llm.model))
        reading = caps.expected_seconds(count_tokens(OUTPUT_MESSAGES[1]["content"], llm.model), 0)
        caps.output_tokens_per_second = round(max(produced, 1) / max(out.latency - reading, out.latency / 2), 1)


async def _serves_in_parallel(llm: "LLMClient", mode: str, records: list[CallRecord], timeout: float) -> bool | None:
    """One request alone, then a few identical ones at once: a serial server takes about their sum.
    Both on warm connections, so connecting is not mistaken for queueing."""
    if llm.settings.concurrency <= 1:
        return None
    kwargs = llm.request_kwargs(mode, PROBE_MESSAGES, "probe", PROBE_SCHEMA, max_tokens=40)
    started = time.monotonic()
    alone, _ = await _try(llm, records, dict(kwargs), mode, timeout)
    single = time.monotonic() - started
    started = time.monotonic()
    results = await asyncio.gather(*(_try(llm, records, dict(kwargs), mode, timeout) for _ in range(PARALLEL_REQUESTS)))
    if alone is None or any(reply is None for reply, _ in results):
        return None
    return time.monotonic() - started < single * SERIAL_RATIO


def format_report(caps: Capabilities) -> list[tuple[str, str]]:
    """Rows for `newsdesk llm check`."""
    from summarizer.llm import MODES

    rows = [(f"mode {m}", caps.modes.get(m, "not probed")) for m in MODES]
    rows += [
        ("chosen mode", caps.mode or "none"),
        ("usage reported", {True: "yes", False: "no (newsdesk counts tokens)", None: "unknown"}[caps.usage_reported]),
        ("context size", f"{caps.context_tokens:,} tokens" if caps.context_tokens else "not reported"),
        ("prompt speed", f"~{caps.prompt_tokens_per_second:.0f} tokens/s" if caps.prompt_tokens_per_second else "-"),
        ("output speed", f"~{caps.output_tokens_per_second:.0f} tokens/s" if caps.output_tokens_per_second else "-"),
        ("parallel requests", {True: "yes", False: "no: one at a time (drafting uses concurrency 1)",
                               None: "not measured"}[caps.parallel]),
    ]
    return rows


def dumps(caps: Capabilities) -> str:
    return json.dumps(caps.to_dict(), indent=2)
