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
    author: str | None = None  # a post's author as its network gives it (@handle, u/name, HN name): credit lines
    network: str | None = None  # the source's type (bluesky, mastodon, x, reddit, hackernews...): credit lines


class PreviousStory(BaseModel):
    """The earlier story this one continues, so the draft can say what is new."""

    day: str
    headline: str
    summary: str = ""
    timeline: list[str] = Field(default_factory=list)  # earlier days of the thread, "day: headline", oldest first


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


# Where a claim sits when it is not in a summary sentence (summary sentences use their index).
VIEW, HEADLINE, TAGS = -1, -2, -3
FIELD_OF_INDEX = {VIEW: "view", HEADLINE: "headline", TAGS: "tags"}


class UnsupportedClaim(BaseModel):
    """A fact the sources do not back, and where it is: a summary sentence (index) or another field."""

    sentence: int  # index into summary, or VIEW / HEADLINE / TAGS
    claim: str
    reason: str

    @property
    def field(self) -> str:
        return FIELD_OF_INDEX.get(self.sentence, "summary")


class OmittedSource(BaseModel):
    """A source of the story that was not shown to the model, and why (the desk shows these)."""

    id: str
    outlet: str = ""
    title: str = ""
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
    mode: str | None = None  # see summarizer.capabilities.MODES
    estimated: bool = False  # the server reported no usage: tokens are our count of what was sent
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
    failure_kind: Literal["transient", "permanent", "budget"] | None = None  # why the LLM draft failed
    mode: str | None = None  # structured-output mode of the LLM attempt
    omitted_sources: list[OmittedSource] = Field(default_factory=list)
    calls: list[CallRecord] = Field(default_factory=list)
