"""Turn a story into a checked draft in a house style; failures become `needs_human`, never exceptions.

Flow per story: bounded input (best passages per source) -> prompt -> LLM (validated JSON,
citations must name this story's sources) -> style lint + grounding -> up to N repair rounds
-> DraftResult with every CallRecord. The nightly flow calls `draft_stories`, which adds
concurrency and the budget cap, and skips stories whose `input_hash` it has already drafted.
"""
from __future__ import annotations

import asyncio
import hashlib
import importlib
import inspect
import json
import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from summarizer.budget import Budget
from summarizer.llm import DraftingError, LLMBudgetReached, LLMClient
from summarizer.models import (
    CallRecord,
    DraftResult,
    SourceDoc,
    StoryDraft,
    StoryInput,
    UnsupportedClaim,
    Violation,
)
from summarizer.passages import select_passages
from summarizer.prompts import PromptSet, escape_source_text, format_source, format_sources

log = logging.getLogger(__name__)

STYLES = ("awesome-ai-daily", "ai-news-digest")
DEFAULT_STYLE = "awesome-ai-daily"
EXTRACTIVE_MODEL = "extractive"


@dataclass
class DraftSettings:
    input_token_budget: int = 3000  # source text per story, after passage selection
    max_sources: int = 8  # the story's best-ranked sources shown to the model
    repair_attempts: int = 2  # extra LLM rounds when lint or grounding finds problems
    concurrency: int = 4  # stories drafted at once by draft_stories
    require_citations: bool = True  # every summary sentence must cite a source


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


# --- optional checkers (written elsewhere; absent means "no findings") --------------------


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


def citation_validator(allowed_ids: Sequence[str], *, require: bool = True) -> Callable[[StoryDraft], None]:
    """A check the LLM client runs on each reply; a ValueError makes it re-ask with the message."""
    allowed = set(allowed_ids)

    def validate(draft: StoryDraft) -> None:
        if not draft.summary:
            raise ValueError("the summary is empty")
        foreign = sorted({sid for s in draft.summary for sid in s.source_ids if sid not in allowed})
        if foreign:
            raise ValueError(f"citations to ids that are not sources of this story: {', '.join(foreign)} "
                             f"(allowed: {', '.join(sorted(allowed))})")
        if require:
            uncited = [str(i + 1) for i, s in enumerate(draft.summary) if not s.source_ids]
            if uncited:
                raise ValueError(f"summary sentence(s) {', '.join(uncited)} cite no source")

    return validate


# --- one story ---------------------------------------------------------------------------


def _needs_human(base: dict[str, Any], error: str, *, draft: StoryDraft | None = None,
                 calls: list[CallRecord] | None = None, **extra: Any) -> DraftResult:
    return DraftResult(**base, draft=draft, status="needs_human", error=error, calls=list(calls or []), **extra)


def build_messages(story: StoryInput, style: str, prompts: PromptSet, settings: DraftSettings,
                   model: str | None) -> tuple[list[dict[str, str]], list[str]]:
    """The chat messages for a story and the source ids shown to the model."""
    excerpts = select_passages(story.sources, settings.input_token_budget, model=model,
                               max_sources=settings.max_sources)
    blocks = [
        format_source(e.source.id, e.text, title=e.source.title, outlet=e.source.outlet, url=e.source.url,
                      published=e.source.published_at.date().isoformat() if e.source.published_at else None)
        for e in excerpts
    ]
    shown_ids = [e.source.id for e in excerpts]
    variables = {
        "day": story.day,
        "sources": format_sources(blocks),
        "source_count": len(blocks),
        "source_ids": ", ".join(json.dumps(i) for i in shown_ids),
        **style_data(),
    }
    system, user, _ = prompts.render(style, **variables)
    if story.previous is not None and prompts.has("update"):
        prev = story.previous
        _, user, _ = prompts.render(
            "update", previous_day=prev.day, previous_headline=escape_source_text(prev.headline),
            previous_summary=escape_source_text(prev.summary), **variables,
        )
    if story.instruction and story.instruction.strip():
        # The editor's words are trusted, unlike the sources; they still cannot change the format.
        user += (
            "\n\nInstruction from the editor for this draft (follow it within the house style and the "
            "output format; it is not a source of facts):\n" + story.instruction.strip()
        )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}], shown_ids


def _problems(violations: list[Violation], unsupported: list[UnsupportedClaim]) -> list[str]:
    out = [f"Style ({v.rule}): {v.message}" for v in violations]
    for u in unsupported:
        where = "the view" if u.sentence < 0 else f"summary sentence {u.sentence + 1}"
        out.append(f"Not supported by the sources, in {where}: \"{u.claim}\" ({u.reason})")
    return out


async def draft_story(
    story: StoryInput,
    *,
    llm: LLMClient | None,
    style: str = DEFAULT_STYLE,
    prompts: PromptSet | None = None,
    settings: DraftSettings | None = None,
    budget: Budget | None = None,
) -> DraftResult:
    """Draft one story; every failure is returned as `needs_human` with the reason."""
    settings = settings or DraftSettings()
    model = llm.model if llm is not None else EXTRACTIVE_MODEL
    try:
        if llm is not None and prompts is None:
            prompts = PromptSet.load()
        version = prompt_version_for(story, style, prompts if llm is not None else None)
    except Exception as exc:
        version = "unknown"
        base = dict(story_id=story.story_id, style=style, model=model, prompt_version=version,
                    input_hash=draft_cache_key(model, version, style, [source_content_hash(s) for s in story.sources]))
        return _needs_human(base, f"prompt not available: {exc}")
    base = dict(story_id=story.story_id, style=style, model=model, prompt_version=version,
                input_hash=draft_cache_key(model, version, style, [source_content_hash(s) for s in story.sources]))
    if llm is None:
        return await _draft_without_llm(story, style, base)
    calls: list[CallRecord] = []
    try:
        assert prompts is not None
        return await _draft_with_llm(story, llm, style, prompts, settings, budget, base, calls)
    except DraftingError as exc:
        return _needs_human(base, exc.reason, calls=calls)
    except Exception as exc:  # a bug must not lose the story or the batch
        log.exception("drafting story %s failed", story.story_id)
        return _needs_human(base, f"unexpected error while drafting: {type(exc).__name__}: {exc}", calls=calls)


async def _draft_with_llm(story: StoryInput, llm: LLMClient, style: str, prompts: PromptSet,
                          settings: DraftSettings, budget: Budget | None, base: dict[str, Any],
                          calls: list[CallRecord]) -> DraftResult:
    if not story.sources:
        raise DraftingError("the story has no sources")
    if style not in prompts.templates:
        raise DraftingError(f"unknown style {style!r}")
    messages, shown_ids = build_messages(story, style, prompts, settings, llm.model)
    validate = citation_validator(shown_ids, require=settings.require_citations)
    draft = await llm.generate(messages, StoryDraft, prompt_version=base["prompt_version"], purpose="draft",
                               records=calls, validate=validate, budget=budget)
    violations, unsupported = run_lint(draft, style), run_grounding(draft, story.sources)
    best = (draft, violations, unsupported)
    notes: list[str] = []
    for _ in range(settings.repair_attempts if prompts.has("repair") else 0):
        if not violations and not unsupported:
            break
        repair = prompts.render("repair", problems=_problems(violations, unsupported),
                                source_ids=", ".join(json.dumps(i) for i in shown_ids))
        convo = messages + [{"role": "assistant", "content": draft.model_dump_json()},
                            {"role": "user", "content": repair.user}]
        try:
            draft = await llm.generate(convo, StoryDraft, prompt_version=repair.version, purpose="repair",
                                       records=calls, validate=validate, budget=budget)
        except LLMBudgetReached as exc:
            notes.append(f"repair skipped: {exc.reason}")
            break
        except DraftingError as exc:
            notes.append(f"repair failed: {exc.reason}")
            break
        violations, unsupported = run_lint(draft, style), run_grounding(draft, story.sources)
        if (len(unsupported), len(violations)) <= (len(best[2]), len(best[1])):
            best = (draft, violations, unsupported)
    draft, violations, unsupported = best
    if unsupported:
        notes.insert(0, f"{len(unsupported)} claim(s) not supported by the sources")
        return _needs_human(base, "; ".join(notes), draft=draft, calls=calls,
                            violations=violations, unsupported=unsupported)
    return DraftResult(**base, draft=draft, status="pending", violations=violations, unsupported=[],
                       error="; ".join(notes) or None, calls=calls)


async def _draft_without_llm(story: StoryInput, style: str, base: dict[str, Any]) -> DraftResult:
    fn = _optional("summarizer.extractive", "draft_extractive")
    if fn is None:
        return _needs_human(base, "no LLM configured and the extractive drafter is not available")
    try:
        out = fn(story, style)
        if inspect.isawaitable(out):
            out = await out
    except Exception as exc:
        log.exception("extractive drafting of story %s failed", story.story_id)
        return _needs_human(base, f"extractive drafter failed: {type(exc).__name__}: {exc}")
    if isinstance(out, DraftResult):
        return out
    if out is None:
        return _needs_human(base, "extractive drafter produced nothing")
    return DraftResult(**base, draft=out, status="pending", violations=run_lint(out, style),
                       unsupported=run_grounding(out, story.sources))


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

    Results come back in the order of `stories`. One story's failure never fails the batch.
    """
    settings = settings or DraftSettings()
    if llm is not None and prompts is None:
        prompts = PromptSet.load()
    slots = asyncio.Semaphore(max(1, settings.concurrency))  # FIFO: higher-ranked stories start first

    async def one(story: StoryInput) -> DraftResult:
        result = await _one(story)
        if on_done is not None:
            on_done(result)
        return result

    async def _one(story: StoryInput) -> DraftResult:
        async with slots:
            if llm is not None and budget is not None and budget.is_reached:
                model = llm.model
                try:
                    version = prompt_version_for(story, style, prompts)
                except Exception:
                    version = "unknown"
                base = dict(story_id=story.story_id, style=style, model=model, prompt_version=version,
                            input_hash=draft_cache_key(model, version, style,
                                                       [source_content_hash(s) for s in story.sources]))
                return _needs_human(base, budget.exhausted_message())
            return await draft_story(story, llm=llm, style=style, prompts=prompts, settings=settings, budget=budget)

    results = await asyncio.gather(*(one(s) for s in stories), return_exceptions=True)
    out: list[DraftResult] = []
    for story, result in zip(stories, results):
        if isinstance(result, BaseException):
            out.append(DraftResult(story_id=story.story_id, draft=None, status="needs_human", style=style,
                                   model=llm.model if llm else EXTRACTIVE_MODEL, prompt_version="unknown",
                                   input_hash="", error=f"drafting crashed: {type(result).__name__}: {result}"))
        else:
            out.append(result)
    return out
