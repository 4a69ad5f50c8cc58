"""Turn a story into a checked draft in a house style; failures become `needs_human`, never exceptions.

Flow per story: choose the sources the model reads (distinct outlets first, within the context)
-> numbered prompt -> LLM (validated JSON; citations are source numbers, constrained by the
schema and mapped back to ids) -> style lint + grounding -> up to N repair rounds -> DraftResult
with every CallRecord. When the LLM fails, the story still gets the extractive draft, marked as
needing a human, with the reason and whether a rerun could do better (`failure_kind`).
`draft_stories` adds concurrency and the budget cap; the pipeline decides what to (re)draft.
"""
from __future__ import annotations

import asyncio
import hashlib
import importlib
import inspect
import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from pydantic import BaseModel, Field, field_validator

from summarizer.budget import Budget
from summarizer.llm import DraftingError, LLMBudgetReached, LLMClient, strict_json_schema
from summarizer.models import (
    CallRecord,
    DraftResult,
    OmittedSource,
    SourceDoc,
    StoryDraft,
    StoryInput,
    SummarySentence,
    UnsupportedClaim,
    Violation,
)
from summarizer.passages import count_tokens, select_passages
from summarizer.prompts import PromptSet, escape_source_text, format_source, format_sources
from summarizer.source_choice import choose_sources

log = logging.getLogger(__name__)

STYLES = ("awesome-ai-daily", "ai-news-digest")
DEFAULT_STYLE = "awesome-ai-daily"
EXTRACTIVE_MODEL = "extractive"
NEEDS_HUMAN = "needs a human draft"


@dataclass
class DraftSettings:
    input_token_budget: int = 3000  # source text per story, after passage selection
    max_sources: int = 8  # sources shown to the model (distinct outlets first)
    repair_attempts: int = 2  # extra LLM rounds when lint or grounding finds problems
    concurrency: int = 4  # stories drafted at once by draft_stories (a serial server gets 1)
    require_citations: bool = True  # every summary sentence must cite a source
    context_tokens: int | None = None  # the model's context: prompt + output must fit (None: probed or unbounded)
    max_output_tokens: int = 1200


# --- cache keys --------------------------------------------------------------------------


def source_content_hash(doc: SourceDoc) -> str:
    """What of a source can change a draft: its id, title and text."""
    payload = json.dumps([doc.id, doc.title, doc.outlet, doc.text], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def draft_cache_key(model: str, prompt_version: str, style: str, source_content_hashes: Iterable[str]) -> str:
    """sha256 over everything that determines a draft; the source order does not matter."""
    payload = json.dumps(
        {"model": model, "prompt_version": prompt_version, "style": style,
         "sources": sorted(source_content_hashes)},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def prompt_version_for(story: StoryInput, style: str, prompts: PromptSet | None) -> str:
    """The prompt version a story will be drafted with (the update prompt joins for follow-ups)."""
    if prompts is None:
        return EXTRACTIVE_MODEL
    version = prompts.version(style)
    if story.previous is not None and prompts.has("update"):
        version += "+" + prompts.version("update")
    return version


def story_cache_key(story: StoryInput, *, model: str, style: str, prompts: PromptSet | None) -> str:
    """`draft_cache_key` for a story; equals `DraftResult.input_hash` of its draft."""
    return draft_cache_key(model, prompt_version_for(story, style, prompts), style,
                           [source_content_hash(s) for s in story.sources])


# --- checkers ----------------------------------------------------------------------------


def _optional(module: str, attr: str) -> Callable[..., Any] | None:
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            log.warning("%s could not be imported: %s", module, exc)
        return None
    return getattr(mod, attr, None)


def run_lint(draft: StoryDraft, style: str) -> list[Violation]:
    fn = _optional("summarizer.lint", "lint")
    if fn is None:
        return []
    try:
        return list(fn(draft, style))
    except Exception:
        log.exception("style linter failed; treating the draft as clean")
        return []


def run_grounding(draft: StoryDraft, sources: list[SourceDoc]) -> list[UnsupportedClaim]:
    fn = _optional("summarizer.grounding", "check_grounding")
    if fn is None:
        return []
    try:
        return list(fn(draft, sources))
    except Exception:
        log.exception("grounding check failed; treating the draft as supported")
        return []


def check_draft(draft: StoryDraft, style: str, sources: list[SourceDoc]) -> tuple[list[Violation], list[UnsupportedClaim]]:
    return run_lint(draft, style), run_grounding(draft, sources)


def style_data() -> dict[str, list[str]]:
    """The linter's tag vocabulary, sections and banned phrases, so prompts ask for what lint checks."""
    data: dict[str, list[str]] = {"tag_vocabulary": [], "sections": [], "banned_phrases": []}
    vocabulary = _optional("summarizer.lint", "tag_vocabulary")
    banned = _optional("summarizer.lint", "banned_phrases")
    try:
        if vocabulary is not None:
            entries = list(vocabulary())
            data["tag_vocabulary"] = [e.name for e in entries]
            data["sections"] = list(dict.fromkeys(e.section for e in entries if getattr(e, "section", None)))
        if banned is not None:
            data["banned_phrases"] = list(banned())
    except Exception:
        log.exception("could not read the style vocabulary; prompts go without it")
    return data


# --- what the model answers --------------------------------------------------------------

_NUMBER = re.compile(r"\d+")


class ReplySentence(BaseModel):
    """A summary sentence as the model writes it: citations are the numbers of the sources shown."""

    text: str
    sources: list[int | str] = Field(default_factory=list)
    paragraph_break: bool = False

    @field_validator("sources", mode="before")
    @classmethod
    def _as_list(cls, value: Any) -> Any:
        """Accept `1`, `"1"`, `"[1]"` and `"1, 3"` as well as `[1, 3]`."""
        if value is None:
            return []
        if isinstance(value, (int, str)):
            return [value]
        return value


class DraftReply(BaseModel):
    """The object asked of the model (mapped to a StoryDraft once citations are resolved)."""

    headline: str
    summary: list[ReplySentence]
    view: str = ""
    tags: list[str] = Field(default_factory=list)
    section: str | None = None


def reply_schema(source_count: int, tag_vocabulary: Sequence[str] = ()) -> dict[str, Any]:
    """The strict schema for one story: citations limited to the numbers shown, tags to the vocabulary."""
    schema = strict_json_schema(DraftReply)
    defs = schema.get("$defs", {})
    sentence = defs.get("ReplySentence") or {}
    sentence.setdefault("properties", {})["sources"] = {
        "type": "array", "items": {"type": "integer", "enum": list(range(1, max(source_count, 1) + 1))},
    }
    if tag_vocabulary:
        schema["properties"]["tags"] = {"type": "array", "items": {"type": "string", "enum": list(tag_vocabulary)}}
    return schema


def resolve_citations(value: int | str, shown: Sequence[SourceDoc]) -> list[str]:
    """A citation as the model wrote it (`1`, `"1"`, `"[1]"`, `"1, 3"`, or a shown id) -> shown ids.
    Numbers that name no shown source are dropped."""
    if isinstance(value, str):
        by_id = next((d.id for d in shown if d.id == value.strip()), None)
        if by_id is not None:
            return [by_id]
        numbers = [int(n) for n in _NUMBER.findall(value)]
    else:
        numbers = [value]
    return [shown[n - 1].id for n in numbers if 1 <= n <= len(shown)]


def to_story_draft(reply: DraftReply, shown: Sequence[SourceDoc]) -> StoryDraft:
    """Map source numbers back to ids. A citation naming no shown source is dropped (grounding then
    flags the sentence as uncited) instead of costing the story."""
    from summarizer.lint import strip_view_opener

    summary = []
    for s in reply.summary:
        ids = list(dict.fromkeys(sid for c in s.sources for sid in resolve_citations(c, shown)))
        summary.append(SummarySentence(text=s.text.strip(), source_ids=ids, paragraph_break=s.paragraph_break))
    return StoryDraft(headline=reply.headline.strip(), summary=summary, view=strip_view_opener(reply.view),
                      tags=[t.strip() for t in reply.tags if t and t.strip()], section=reply.section)


UPDATE_PREFIX = "Update: "


def frame_update(draft: StoryDraft, story: StoryInput) -> StoryDraft:
    """A story that continues an earlier one is headed "Update: ...", whatever the model wrote."""
    headline = (draft.headline or "").strip()
    if story.previous is None or not headline or headline.lower().startswith(UPDATE_PREFIX.strip().lower()):
        return draft
    return draft.model_copy(update={"headline": UPDATE_PREFIX + headline[:1].upper() + headline[1:]})


def nonempty_summary(reply: DraftReply) -> None:
    """The one thing worth a re-ask: a reply with nothing to show an editor."""
    if not [s for s in reply.summary if s.text.strip()]:
        raise ValueError("the summary is empty")
    if not reply.headline.strip():
        raise ValueError("the headline is empty")


def draft_as_reply(draft: StoryDraft, shown: Sequence[SourceDoc]) -> str:
    """A StoryDraft in the model's own numbered form (for the repair conversation)."""
    number = {d.id: i + 1 for i, d in enumerate(shown)}
    return json.dumps({
        "headline": draft.headline,
        "summary": [{"text": s.text, "sources": [number[i] for i in s.source_ids if i in number],
                     "paragraph_break": s.paragraph_break} for s in draft.summary],
        "view": draft.view, "tags": draft.tags, "section": draft.section,
    }, ensure_ascii=False)


# --- the prompt --------------------------------------------------------------------------


@dataclass
class Prompt:
    messages: list[dict[str, str]]
    shown: list[SourceDoc]  # source n is shown[n - 1]
    omitted: list[OmittedSource]
    schema: dict[str, Any]


def _render(story: StoryInput, style: str, prompts: PromptSet, blocks: list[str], variables: dict[str, Any]) -> list[dict[str, str]]:
    variables = {**variables, "sources": format_sources(blocks), "source_count": len(blocks),
                 "citation_numbers": ", ".join(str(i + 1) for i in range(len(blocks)))}
    system, user, _ = prompts.render(style, **variables)
    if story.previous is not None and prompts.has("update"):
        prev = story.previous
        _, user, _ = prompts.render(
            "update", previous_day=prev.day, previous_headline=escape_source_text(prev.headline),
            previous_summary=escape_source_text(prev.summary),
            timeline=[escape_source_text(t) for t in prev.timeline], **variables,
        )
    if story.instruction and story.instruction.strip():
        # The editor's words are trusted, unlike the sources; they still cannot change the format.
        user += (
            "\n\nInstruction from the editor for this draft (follow it within the house style and the "
            "output format; it is not a source of facts):\n" + story.instruction.strip()
        )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def build_prompt(story: StoryInput, style: str, prompts: PromptSet, settings: DraftSettings,
                 model: str | None, *, context_tokens: int | None = None) -> Prompt:
    """The chat messages for a story, the sources shown (numbered) and those left out, with why.

    Source text is bounded by `input_token_budget` and, when the context size is known, by what
    the context leaves after the instructions, the schema and the reply.
    """
    choice = choose_sources(story.sources, settings.max_sources)
    data = style_data()
    variables = {"day": story.day, **data}
    schema = reply_schema(len(choice.chosen), data["tag_vocabulary"])
    budget = settings.input_token_budget
    context = settings.context_tokens or context_tokens
    if context:
        frame = _render(story, style, prompts, [format_source(i + 1, "", title=d.title, outlet=d.outlet)
                                                 for i, d in enumerate(choice.chosen)], variables)
        overhead = count_tokens(json.dumps(frame) + json.dumps(schema), model)
        room = int((context - settings.max_output_tokens) * 0.9) - overhead  # 10% for tokenizer differences
        budget = max(0, min(budget, room))
    excerpts = select_passages(choice.chosen, budget, model=model)
    omitted = list(choice.omitted)
    shown = [e for e in excerpts if e.passages]
    for e in excerpts:
        if not e.passages:
            omitted.append(OmittedSource(id=e.source.id, outlet=e.source.outlet, title=e.source.title,
                                         reason="no room left in the model's context"))
    if not shown and excerpts:  # always show something: the best source's title at least
        shown = excerpts[:1]
        omitted = [o for o in omitted if o.id != shown[0].source.id]
    blocks = [
        format_source(i + 1, e.text, title=e.source.title, outlet=e.source.outlet, url=e.source.url,
                      published=e.source.published_at.date().isoformat() if e.source.published_at else None)
        for i, e in enumerate(shown)
    ]
    shown_docs = [e.source for e in shown]
    if len(shown_docs) != len(choice.chosen):
        schema = reply_schema(len(shown_docs), data["tag_vocabulary"])
    return Prompt(_render(story, style, prompts, blocks, variables), shown_docs, omitted, schema)


def _problems(violations: list[Violation], unsupported: list[UnsupportedClaim]) -> list[str]:
    out = [f"Style ({v.rule}): {v.message}" for v in violations]
    for u in unsupported:
        where = u.field if u.field != "summary" else f"summary sentence {u.sentence + 1}"
        out.append(f"Not supported by the sources, in the {where}: \"{u.claim}\" ({u.reason})")
    return out


# --- one story ---------------------------------------------------------------------------


def _failure_kind(exc: DraftingError) -> str:
    if isinstance(exc, LLMBudgetReached):
        return "budget"
    return "transient" if exc.transient else "permanent"


async def draft_story(
    story: StoryInput,
    *,
    llm: LLMClient | None,
    style: str = DEFAULT_STYLE,
    prompts: PromptSet | None = None,
    settings: DraftSettings | None = None,
    budget: Budget | None = None,
) -> DraftResult:
    """Draft one story; every failure is returned as `needs_human` with the reason and a fallback draft."""
    settings = settings or DraftSettings()
    model = llm.model if llm is not None else EXTRACTIVE_MODEL
    try:
        if llm is not None and prompts is None:
            prompts = PromptSet.load()
        version = prompt_version_for(story, style, prompts if llm is not None else None)
    except Exception as exc:
        version = "unknown"
        base = _base(story, style, model, version)
        return await _fallback(story, style, base, f"prompt not available: {exc}", "permanent")
    base = _base(story, style, model, version)
    if llm is None:
        return await _draft_without_llm(story, style, base)
    calls: list[CallRecord] = []
    try:
        assert prompts is not None
        return await _draft_with_llm(story, llm, style, prompts, settings, budget, base, calls)
    except DraftingError as exc:
        return await _fallback(story, style, base, exc.reason, _failure_kind(exc), calls=calls, mode=llm.mode)
    except Exception as exc:  # a bug must not lose the story or the batch
        log.exception("drafting story %s failed", story.story_id)
        return await _fallback(story, style, base, f"unexpected error while drafting: {type(exc).__name__}: {exc}",
                               "permanent", calls=calls, mode=llm.mode)


def _base(story: StoryInput, style: str, model: str, version: str) -> dict[str, Any]:
    return dict(story_id=story.story_id, style=style, model=model, prompt_version=version,
                input_hash=draft_cache_key(model, version, style, [source_content_hash(s) for s in story.sources]))


async def _draft_with_llm(story: StoryInput, llm: LLMClient, style: str, prompts: PromptSet,
                          settings: DraftSettings, budget: Budget | None, base: dict[str, Any],
                          calls: list[CallRecord]) -> DraftResult:
    if not story.sources:
        raise DraftingError("the story has no sources")
    if style not in prompts.templates:
        raise DraftingError(f"unknown style {style!r}")
    await llm.ensure_probed()
    context = llm.capabilities.context_tokens if llm.capabilities is not None else None
    prompt = await asyncio.to_thread(build_prompt, story, style, prompts, settings, llm.model, context_tokens=context)
    reply = await llm.generate(prompt.messages, DraftReply, prompt_version=base["prompt_version"], purpose="draft",
                               records=calls, validate=nonempty_summary, budget=budget, json_schema=prompt.schema)
    draft = frame_update(to_story_draft(reply, prompt.shown), story)
    violations, unsupported = await asyncio.to_thread(check_draft, draft, style, story.sources)
    best = (draft, violations, unsupported)
    notes: list[str] = []
    for _ in range(_repair_rounds(llm, settings, prompt, prompts)):
        if not violations and not unsupported:
            break
        repair = prompts.render("repair", problems=_problems(violations, unsupported),
                                citation_numbers=", ".join(str(i + 1) for i in range(len(prompt.shown))))
        convo = prompt.messages + [{"role": "assistant", "content": draft_as_reply(draft, prompt.shown)},
                                   {"role": "user", "content": repair.user}]
        try:
            reply = await llm.generate(convo, DraftReply, prompt_version=repair.version, purpose="repair",
                                       records=calls, validate=nonempty_summary, budget=budget,
                                       json_schema=prompt.schema)
        except LLMBudgetReached as exc:
            notes.append(f"repair skipped: {exc.reason}")
            break
        except DraftingError as exc:
            notes.append(f"repair failed: {exc.reason}")
            if exc.transient and unsupported:  # worth asking again on the next run
                base = base | {"failure_kind": "transient"}
            break
        draft = frame_update(to_story_draft(reply, prompt.shown), story)
        violations, unsupported = await asyncio.to_thread(check_draft, draft, style, story.sources)
        if (len(unsupported), len(violations)) <= (len(best[2]), len(best[1])):
            best = (draft, violations, unsupported)
    draft, violations, unsupported = best
    common = dict(draft=draft, violations=violations, calls=calls, mode=llm.mode, omitted_sources=prompt.omitted)
    if unsupported:
        notes.insert(0, f"{len(unsupported)} claim(s) not supported by the sources")
        return DraftResult(**base, status="needs_human", unsupported=unsupported, error="; ".join(notes), **common)
    return DraftResult(**base, status="pending", unsupported=[], error="; ".join(notes) or None, **common)


SLOW_REQUEST_SECONDS = 60.0


def _repair_rounds(llm: LLMClient, settings: DraftSettings, prompt: Prompt, prompts: PromptSet) -> int:
    """Repair rounds for this story: one at most on a serial server where a request takes minutes
    (a small local model rarely mends in a third try what two missed, and the night is long)."""
    if not prompts.has("repair"):
        return 0
    caps = llm.capabilities
    if caps is not None and caps.parallel is False:
        prompt_tokens = count_tokens(json.dumps(prompt.messages), llm.model)
        if caps.expected_seconds(prompt_tokens, llm.settings.max_output_tokens) > SLOW_REQUEST_SECONDS:
            return min(settings.repair_attempts, 1)
    return settings.repair_attempts


async def _extractive(story: StoryInput, style: str) -> StoryDraft | DraftResult | None:
    fn = _optional("summarizer.extractive", "draft_extractive")
    if fn is None:
        return None
    out = await asyncio.to_thread(fn, story, style)
    if inspect.isawaitable(out):
        out = await out
    return out


async def _fallback(story: StoryInput, style: str, base: dict[str, Any], reason: str, kind: str, *,
                    calls: list[CallRecord] | None = None, mode: str | None = None) -> DraftResult:
    """The LLM gave nothing usable: queue the extractive draft (cited), marked for a human, never a blank."""
    draft: StoryDraft | None = None
    violations: list[Violation] = []
    unsupported: list[UnsupportedClaim] = []
    try:
        out = await _extractive(story, style) if story.sources else None
        draft = out.draft if isinstance(out, DraftResult) else out
        draft = frame_update(draft, story) if draft is not None else None
    except Exception:
        log.exception("extractive fallback for story %s failed", story.story_id)
    if draft is not None:
        violations, unsupported = await asyncio.to_thread(check_draft, draft, style, story.sources)
    return DraftResult(**base, draft=draft, status="needs_human", error=f"{NEEDS_HUMAN}: {reason}",
                       failure_kind=kind, mode=mode, calls=list(calls or []), violations=violations,
                       unsupported=unsupported)


async def _draft_without_llm(story: StoryInput, style: str, base: dict[str, Any]) -> DraftResult:
    try:
        out = await _extractive(story, style)
    except Exception as exc:
        log.exception("extractive drafting of story %s failed", story.story_id)
        return DraftResult(**base, draft=None, status="needs_human",
                           error=f"extractive drafter failed: {type(exc).__name__}: {exc}")
    if isinstance(out, DraftResult):
        return out
    if out is None:
        return DraftResult(**base, draft=None, status="needs_human",
                           error="no LLM configured and the extractive drafter produced nothing")
    out = frame_update(out, story)
    violations, unsupported = await asyncio.to_thread(check_draft, out, style, story.sources)
    return DraftResult(**base, draft=out, status="pending", violations=violations, unsupported=unsupported)


# --- a night's batch ---------------------------------------------------------------------


async def draft_stories(
    stories: Sequence[StoryInput],
    *,
    llm: LLMClient | None,
    style: str = DEFAULT_STYLE,
    prompts: PromptSet | None = None,
    settings: DraftSettings | None = None,
    budget: Budget | None = None,
    on_done: Callable[[DraftResult], None] | None = None,
) -> list[DraftResult]:
    """Draft stories concurrently, in rank order; once the budget is reached the rest wait for a human.

    Results come back in the order of `stories`; `on_done` sees each as soon as it is ready (the
    pipeline saves it then, so a crash loses at most the stories in flight). One story's failure
    never fails the batch.
    """
    settings = settings or DraftSettings()
    if llm is not None and prompts is None:
        prompts = PromptSet.load()
    if llm is not None and stories:
        try:
            await llm.ensure_probed()
        except DraftingError:
            pass  # each story records the failure itself
    width = min(settings.concurrency, llm.concurrency) if llm is not None else settings.concurrency
    slots = asyncio.Semaphore(max(1, width))  # FIFO: higher-ranked stories start first

    async def one(story: StoryInput) -> DraftResult:
        result = await _one(story)
        if on_done is not None:
            on_done(result)
        return result

    async def _one(story: StoryInput) -> DraftResult:
        async with slots:
            if llm is not None and budget is not None and budget.is_reached:
                try:
                    version = prompt_version_for(story, style, prompts)
                except Exception:
                    version = "unknown"
                return await _fallback(story, style, _base(story, style, llm.model, version),
                                       budget.exhausted_message(), "budget", mode=llm.mode)
            return await draft_story(story, llm=llm, style=style, prompts=prompts, settings=settings, budget=budget)

    results = await asyncio.gather(*(one(s) for s in stories), return_exceptions=True)
    out: list[DraftResult] = []
    for story, result in zip(stories, results):
        if isinstance(result, BaseException):
            out.append(DraftResult(story_id=story.story_id, draft=None, status="needs_human", style=style,
                                   model=llm.model if llm else EXTRACTIVE_MODEL, prompt_version="unknown",
                                   input_hash="", error=f"drafting crashed: {type(result).__name__}: {result}",
                                   failure_kind="permanent"))
        else:
            out.append(result)
    return out
