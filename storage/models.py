"""The newsroom's tables.

Every table that a pipeline stage writes has a natural unique key, so a stage
that runs twice updates rows instead of adding them (see `storage.writes`).
Times are stored as timezone-aware UTC. The full-text index (migration 0007) lives beside these
tables (FTS5 tables on SQLite, generated `search_vector` columns on PostgreSQL) and is not mapped:
the database keeps it, `storage.search` reads it.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Always hand back aware UTC datetimes, also from SQLite (which keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):  # type: ignore[override]
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect):  # type: ignore[override]
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict: JSON, list: JSON}


class Source(Base):
    """A subscribed source and its health (what editors see in `sources list`)."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    type: Mapped[str] = mapped_column(String(32))
    url: Mapped[str | None] = mapped_column(Text)
    handle: Mapped[str | None] = mapped_column(String(200))
    base_url: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list] = mapped_column(JSON, default=list)
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    # What the last successful fetch found wrong (truncated XML, entries without links, future
    # dates...): a source that answers but loses entries must not look healthy.
    warnings: Mapped[list | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Article(Base):
    """One article page, however many feeds and posts pointed at it."""

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    canonical_url: Mapped[str] = mapped_column(String(2000), unique=True)
    final_url: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|ok|paywalled|empty|not_article|failed
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    site_name: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(20))
    image: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None]
    content_hash: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    fetched_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Item(Base):
    """A sighting: one post or feed entry from one source."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("source_id", "guid", name="uq_items_source_guid"),
        Index("ix_items_window", "window_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # article | post
    guid: Mapped[str] = mapped_column(String(1000))
    url: Mapped[str | None] = mapped_column(Text)  # canonical
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime | None]
    window_at: Mapped[datetime]  # published_at, or first fetch when the source gives no date
    engagement: Mapped[dict] = mapped_column(JSON, default=dict)
    links: Mapped[list] = mapped_column(JSON, default=list)
    content_hash: Mapped[str] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    added_by: Mapped[str | None] = mapped_column(String(200))  # the editor who pasted this link (None: collected)
    added_note: Mapped[str | None] = mapped_column(Text)  # their note: why it matters

    source: Mapped[Source] = relationship()
    article: Mapped[Article | None] = relationship()


class ItemLink(Base):
    """An article a post points to, so the post and the article can join one story."""

    __tablename__ = "item_links"
    __table_args__ = (UniqueConstraint("item_id", "article_id", name="uq_item_links"),
                      Index("ix_item_links_article", "article_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))


class Thread(Base):
    """A running story across days: every day's story of one event joins its predecessor's thread."""

    __tablename__ = "threads"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Story(Base):
    """One event of one day, told by many items; `key` keeps its identity across reruns."""

    __tablename__ = "stories"
    __table_args__ = (UniqueConstraint("day", "key", name="uq_stories_day_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[str] = mapped_column(String(10), index=True)
    key: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text, default="")
    rank: Mapped[int] = mapped_column(Integer, default=0)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    previous_story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id", ondelete="SET NULL"))
    is_repeat: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)  # false once a rerun regrouped it away
    thread_id: Mapped[int | None] = mapped_column(ForeignKey("threads.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    items: Mapped[list["StoryItem"]] = relationship(cascade="all, delete-orphan", order_by="StoryItem.item_id")
    draft: Mapped["Draft | None"] = relationship(back_populates="story", uselist=False)


class StoryItem(Base):
    __tablename__ = "story_items"
    __table_args__ = (UniqueConstraint("story_id", "item_id", name="uq_story_items"), Index("ix_story_items_item", "item_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    # Joined only as a straggler, below the full similarity threshold: the desk asks the editor
    # to check it belongs (a one-item story about the same company is folded in this way).
    weak: Mapped[bool] = mapped_column(Boolean, default=False)

    item: Mapped[Item] = relationship()


class ItemSeparation(Base):
    """An editor's ruling that an item is a story of its own for its day (the desk's "Split off").

    The cluster stage reads it after clustering, so a rerun never folds the item back into the
    story it was split from; the item's same-article siblings go with it, as they always do.
    """

    __tablename__ = "item_separations"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), unique=True)
    day: Mapped[str] = mapped_column(String(10), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ItemJoin(Base):
    """An editor's ruling that items belong in one story for their day (the desk's "Merge").

    One row per item: items with the same `group_id` are one group, and the cluster stage puts a
    group's items in one story whatever clustering found. `group_id` is only a label: the lowest
    item id of the group, an item that has a row itself (a merge or a split relabels the group),
    so two groups never share it. A later split of an item deletes that item's row (the latest
    ruling wins); a group left with one item is deleted, as there is nothing left to join.
    """

    __tablename__ = "item_joins"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), unique=True)
    group_id: Mapped[int] = mapped_column(Integer, index=True)
    day: Mapped[str] = mapped_column(String(10), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Draft(Base):
    """The editable draft of one story; `version` guards against silent overwrites."""

    __tablename__ = "drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|approved|rejected|needs_human
    style: Mapped[str] = mapped_column(String(40))
    headline: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[list] = mapped_column(JSON, default=list)  # [{"text", "source_ids"}]
    view: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list] = mapped_column(JSON, default=list)
    section: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(String(200))
    prompt_version: Mapped[str] = mapped_column(String(80), default="")
    input_hash: Mapped[str] = mapped_column(String(64), default="")
    violations: Mapped[list] = mapped_column(JSON, default=list)
    unsupported: Mapped[list] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    # Why the last machine attempt failed: transient (timeout, 5xx, 429: retried by the next run, within
    # a bound), permanent (the same request would fail again: not re-asked until its cause can change)
    # or budget (the night's cap: retried when there is budget).
    failure_kind: Mapped[str | None] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # failed LLM attempts on the current input
    llm_mode: Mapped[str | None] = mapped_column(String(30))  # structured-output mode of the last LLM attempt
    omitted_sources: Mapped[list] = mapped_column(JSON, default=list)  # [{"id", "outlet", "title", "reason"}]
    override: Mapped[dict | None] = mapped_column(JSON)  # approved despite open flags: {"by", "reason", "at", "flags"}
    edited: Mapped[bool] = mapped_column(Boolean, default=False)  # an editor touched it: reruns keep it
    editor: Mapped[str | None] = mapped_column(String(200))
    reject_reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]

    story: Mapped[Story] = relationship(back_populates="draft")
    revisions: Mapped[list["DraftRevision"]] = relationship(
        cascade="all, delete-orphan", order_by="DraftRevision.version"
    )


class DraftRevision(Base):
    """Every version of a draft: who changed what, when."""

    __tablename__ = "draft_revisions"
    __table_args__ = (UniqueConstraint("draft_id", "version", name="uq_draft_revisions"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(200))  # "newsdesk" for machine drafts
    action: Mapped[str] = mapped_column(String(40))  # drafted|edited|approved|rejected|regenerated
    snapshot: Mapped[dict] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Digest(Base):
    """One day's digest: order, intro, and its published versions."""

    __tablename__ = "digests"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[str] = mapped_column(String(10), unique=True)
    style: Mapped[str] = mapped_column(String(40), default="awesome-ai-daily")
    title: Mapped[str | None] = mapped_column(Text)
    intro: Mapped[str | None] = mapped_column(Text)
    story_order: Mapped[list] = mapped_column(JSON, default=list)  # story ids; empty = rank order
    dropped: Mapped[list] = mapped_column(JSON, default=list)  # story ids left out by an editor
    status: Mapped[str] = mapped_column(String(20), default="draft")  # draft|published
    version: Mapped[int] = mapped_column(Integer, default=1)
    published_at: Mapped[datetime | None]
    published_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    publications: Mapped[list["Publication"]] = relationship(
        cascade="all, delete-orphan", order_by="Publication.revision"
    )


class Publication(Base):
    """A published (or corrected) rendering of a digest; corrections add revisions."""

    __tablename__ = "publications"
    __table_args__ = (UniqueConstraint("digest_id", "revision", name="uq_publications"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    digest_id: Mapped[int] = mapped_column(ForeignKey("digests.id", ondelete="CASCADE"))
    revision: Mapped[int] = mapped_column(Integer)
    style: Mapped[str] = mapped_column(String(40))
    markdown: Mapped[str] = mapped_column(Text)
    story_ids: Mapped[list] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(Text)  # correction note
    published_by: Mapped[str] = mapped_column(String(200))
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    html: Mapped[str | None] = mapped_column(Text)  # the day page as published; the email is built from it


class LLMCall(Base):
    """Every prompt sent to a model, with its cost (the night's bill is a SUM over this)."""

    __tablename__ = "llm_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[str | None] = mapped_column(String(10), index=True)
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id", ondelete="SET NULL"))
    purpose: Mapped[str] = mapped_column(String(40), default="draft")
    model: Mapped[str] = mapped_column(String(200))
    prompt_version: Mapped[str] = mapped_column(String(80))
    mode: Mapped[str | None] = mapped_column(String(20))
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(10), default="ok")
    error: Mapped[str | None] = mapped_column(Text)
    estimated: Mapped[bool] = mapped_column(Boolean, default=False)  # tokens counted by us: the server reported none
    request_text: Mapped[str] = mapped_column(Text, default="")
    response_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Run(Base):
    """One pipeline run (nightly or rerun) and its statistics, shown to editors."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[str] = mapped_column(String(10), index=True)
    trigger: Mapped[str] = mapped_column(String(40), default="manual")
    from_stage: Mapped[str] = mapped_column(String(20), default="collect")
    status: Mapped[str] = mapped_column(String(20), default="running")  # running|ok|failed|interrupted
    stats: Mapped[dict] = mapped_column(JSON, default=dict)
    notes: Mapped[list] = mapped_column(JSON, default=list)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    # Who runs it (host:pid) and when it last said it was alive: a killed run stops beating and the
    # next start marks it interrupted instead of leaving it "running" forever.
    holder: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None]


class DayLock(Base):
    """The run that currently owns a day (one run per day at once).

    On SQLite this row is the lock; on PostgreSQL an advisory lock is, and the row says who holds it.
    """

    __tablename__ = "day_locks"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    token: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[int | None] = mapped_column(Integer)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]


class HostSlot(Base):
    """One of a host's request slots, shared by every worker (storage.hostlimits).

    A slot is held by one request at a time until it is released or `expires_at` (epoch seconds)
    passes, so a worker killed mid-request frees its slots by itself.
    """

    __tablename__ = "host_slots"

    host: Mapped[str] = mapped_column(String(300), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(64), index=True)  # renewals find our slots by it
    expires_at: Mapped[float] = mapped_column(Float)


class HostPace(Base):
    """When the next request to a host may start (epoch seconds), shared by every worker."""

    __tablename__ = "host_pace"

    host: Mapped[str] = mapped_column(String(300), primary_key=True)
    next_at: Mapped[float] = mapped_column(Float)


class Setting(Base):
    """Small remembered facts, e.g. which structured-output mode an LLM endpoint supports."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20), default="editor")  # editor|admin
    password_hash: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeskSession(Base):
    """A signed-in desk session, so logout, a password reset or disabling a user ends it server-side.

    `id` is a hash of the token in the cookie (the table never holds a usable
    token); `credential` fingerprints the password hash at sign-in, so any
    password change ends every older session even without an explicit revoke.
    """

    __tablename__ = "desk_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    credential: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class AuditLog(Base):
    """Who changed what, when, with before and after."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Subscriber(Base):
    """A newsletter reader; an unsubscribe is kept (the row stays, marked), so no import re-adds them."""

    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored lower-cased
    name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|active|unsubscribed|bounced
    token: Mapped[str] = mapped_column(String(64), unique=True)  # in the unsubscribe link; random, never reused
    source: Mapped[str] = mapped_column(String(20), default="cli")  # cli|import|form
    last_error: Mapped[str | None] = mapped_column(Text)  # why a send failed for good
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]


class Delivery(Base):
    """One send of one published revision to one target: a subscriber, or a chat/social channel.

    The unique key (publication, channel, target) is the idempotency key: a
    send claims its row before it talks to the server, so a rerun, a retry or
    a second click never sends the same revision to the same target twice.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("publication_id", "channel", "target", name="uq_deliveries_key"),
        Index("ix_deliveries_subscriber", "subscriber_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    publication_id: Mapped[int] = mapped_column(ForeignKey("publications.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(20))  # email|discord|telegram|mastodon|bluesky
    target: Mapped[str] = mapped_column(String(100))  # subscriber id for email, the channel name otherwise
    subscriber_id: Mapped[int | None] = mapped_column(ForeignKey("subscribers.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20), default="sending")  # sending|sent|deferred|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    remote_id: Mapped[str | None] = mapped_column(Text)  # Message-ID, chat message id or post URL
    actor: Mapped[str] = mapped_column(String(200), default="newsdesk")
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
