"""The drafting contract: what a story looks like going in, what a draft looks like coming out.

`flows/` builds `StoryInput` from storage, `summarizer/` turns it into a
`DraftResult`, and `flows/` stores that. Nothing here touches a database.
"""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

DraftStatus = Literal["pending", "approved", "rejected", "needs_human"]


class SourceDoc(BaseModel):
    """One item of a story as the drafter sees it (untrusted text)."""

    id: str  # stable item id, cited by summary sentences
    title: str
    outlet: str
    url: str | None = None
    text: str = ""
    published_at: datetime | None = None
    kind: Literal["article", "post"] = "article"


class PreviousStory(BaseModel):
    """The earlier story this one continues, so the draft can say what is new."""

    day: str
    headline: str
    summary: str = ""


class StoryInput(BaseModel):
    story_id: int
    day: str
    sources: list[SourceDoc]
    previous: PreviousStory | None = None
    instruction: str | None = None  # an editor's note when regenerating one story by hand


class SummarySentence(BaseModel):
    text: str
    source_ids: list[str] = Field(default_factory=list)
    paragraph_break: bool = False  # True: a new summary paragraph starts after this sentence


class StoryDraft(BaseModel):
    """Structured output asked of the LLM (and produced by the extractive drafter)."""

    headline: str
    summary: list[SummarySentence]
    view: str = ""
    tags: list[str] = Field(default_factory=list)
    section: str | None = None  # themed section, used by the ai-news-digest style

    def summary_text(self) -> str:
        return " ".join(s.text.strip() for s in self.summary)


class Violation(BaseModel):
    rule: str
    message: str


class UnsupportedClaim(BaseModel):
    sentence: int  # index into summary, or -1 for the view
    claim: str
    reason: str


class CallRecord(BaseModel):
    """One LLM call, as it is logged to storage."""

    model: str
    prompt_version: str
    purpose: str = "draft"
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: int = 0
    status: Literal["ok", "error"] = "ok"
    error: str | None = None
    mode: str | None = None  # json_schema | json_object | text
    request_text: str = ""
    response_text: str = ""


class DraftResult(BaseModel):
    """What drafting one story produced, failure included: nothing is lost."""

    story_id: int
    draft: StoryDraft | None
    status: DraftStatus = "pending"
    style: str
    model: str | None
    prompt_version: str
    input_hash: str
    violations: list[Violation] = Field(default_factory=list)
    unsupported: list[UnsupportedClaim] = Field(default_factory=list)
    error: str | None = None
    calls: list[CallRecord] = Field(default_factory=list)
