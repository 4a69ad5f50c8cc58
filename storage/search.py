"""Full-text search over the desk: stories, their drafts and their sources (items and extracted articles).

SQLite answers from FTS5 tables and PostgreSQL from generated tsvector
columns with GIN indexes (migration 0007); both are kept in step by the
database on every write (triggers, generated columns), so no code path can
forget them. `rebuild` refills the FTS5 tables from the rows, for a database
whose index was damaged or restored from elsewhere.

A hit is a story: the story's own title, its draft (headline, summary, view,
tags) or any of its sources. Results carry where the words were found.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from sqlalchemy import and_, exists, select, text
from sqlalchemy.orm import Session, selectinload

from storage.models import Draft, Item, Source, Story, StoryItem
from storage.search_schema import SQLITE_TEXT

STATUSES = ("pending", "approved", "rejected", "needs_human", "undrafted")
MAX_QUERY_CHARS = 500
MAX_TERMS = 12
OPERATORS = {"AND", "OR", "NOT", "NEAR"}  # search-engine habits, not words to find (lower case they are words)
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class SearchError(ValueError):
    """Bad search input: one line for the editor, nothing changed."""


@dataclass
class Hit:
    story_id: int
    day: str
    headline: str
    status: str
    score: float
    found_in: list[str]  # story | draft | source
    sources: list[str] = field(default_factory=list)  # source names
    snippet: str = ""


def terms(query: str) -> list[str]:
    """The words of a query; punctuation and operators are dropped, so any input is a valid query."""
    if len(query) > MAX_QUERY_CHARS:
        raise SearchError(f"the query is longer than {MAX_QUERY_CHARS} characters")
    words = [w for w in re.findall(r"\w+", query, flags=re.UNICODE) if w not in OPERATORS]
    if not words:
        raise SearchError("type at least one word to search for")
    return words[:MAX_TERMS]


def _fts5_query(words: list[str]) -> str:
    return " ".join('"' + w.replace('"', '""') + '"' for w in words)  # every word, each a literal token


_SQLITE_MATCHES = """
SELECT s.id AS story_id, -bm25(search_stories) AS score, 'story' AS kind
  FROM search_stories JOIN stories s ON s.id = search_stories.rowid WHERE search_stories MATCH :q
UNION ALL
SELECT d.story_id, -bm25(search_drafts), 'draft'
  FROM search_drafts JOIN drafts d ON d.id = search_drafts.rowid WHERE search_drafts MATCH :q
UNION ALL
SELECT si.story_id, -bm25(search_items), 'source'
  FROM search_items JOIN story_items si ON si.item_id = search_items.rowid WHERE search_items MATCH :q
UNION ALL
SELECT si.story_id, -bm25(search_articles), 'source'
  FROM search_articles JOIN items i ON i.article_id = search_articles.rowid
  JOIN story_items si ON si.item_id = i.id WHERE search_articles MATCH :q
UNION ALL
SELECT si.story_id, -bm25(search_articles), 'source'
  FROM search_articles JOIN item_links l ON l.article_id = search_articles.rowid
  JOIN story_items si ON si.item_id = l.item_id WHERE search_articles MATCH :q
"""

_PG_Q = "plainto_tsquery('english', :q)"  # inline each time (not a CTE), so each GIN index is used
_PG_MATCHES = f"""
SELECT s.id AS story_id, ts_rank(s.search_vector, {_PG_Q}) AS score, 'story' AS kind
  FROM stories s WHERE s.search_vector @@ {_PG_Q}
UNION ALL
SELECT d.story_id, ts_rank(d.search_vector, {_PG_Q}), 'draft' FROM drafts d WHERE d.search_vector @@ {_PG_Q}
UNION ALL
SELECT si.story_id, ts_rank(i.search_vector, {_PG_Q}), 'source'
  FROM items i JOIN story_items si ON si.item_id = i.id WHERE i.search_vector @@ {_PG_Q}
UNION ALL
SELECT si.story_id, ts_rank(a.search_vector, {_PG_Q}), 'source'
  FROM articles a JOIN items i ON i.article_id = a.id JOIN story_items si ON si.item_id = i.id
  WHERE a.search_vector @@ {_PG_Q}
UNION ALL
SELECT si.story_id, ts_rank(a.search_vector, {_PG_Q}), 'source'
  FROM articles a JOIN item_links l ON l.article_id = a.id JOIN story_items si ON si.item_id = l.item_id
  WHERE a.search_vector @@ {_PG_Q}
"""


def _matches(session: Session, words: list[str]) -> dict[int, tuple[float, set[str]]]:
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        rows = session.execute(text(_SQLITE_MATCHES), {"q": _fts5_query(words)})
    elif dialect == "postgresql":
        rows = session.execute(text(_PG_MATCHES), {"q": " ".join(words)})
    else:
        raise SearchError(f"full-text search needs SQLite or PostgreSQL, not {dialect}")
    found: dict[int, tuple[float, set[str]]] = {}
    for story_id, score, kind in rows:
        best, kinds = found.get(story_id, (float("-inf"), set()))
        found[story_id] = (max(best, float(score or 0.0)), kinds | {kind})
    return found


def _check_day(value: str | None, name: str) -> str | None:
    if value and not DAY.match(value):
        raise SearchError(f"{name} must be a day like 2026-11-18, not {value!r}")
    return value or None


def _snippet(story: Story, words: Iterable[str], width: int = 160) -> str:
    """The first stretch of the story's text that holds a query word (prefix match, so "model" finds "models")."""
    d = story.draft
    texts = []
    if d is not None:
        texts += [d.headline or ""] + [str(s.get("text", "")) for s in (d.summary or []) if isinstance(s, dict)] + [d.view or "", " · ".join(map(str, d.tags or []))]
    texts.append(story.title or "")
    for si in story.items:
        texts += [si.item.title or "", si.item.text or ""]
        if si.item.article is not None:
            texts.append(si.item.article.text or "")
    stems = [w.casefold()[: max(4, len(w) - 2)] for w in words]
    for t in texts:
        low = t.casefold()
        at = min((i for i in (low.find(s) for s in stems) if i >= 0), default=-1)
        if at >= 0:
            start = max(0, at - width // 3)
            piece = " ".join(t[start:start + width].split())
            return ("…" if start else "") + piece + ("…" if start + width < len(t) else "")
    return ""


def search(
    session: Session,
    query: str,
    *,
    day_from: str | None = None,
    day_to: str | None = None,
    status: str | None = None,
    source: str | None = None,
    limit: int = 50,
) -> list[Hit]:
    """Stories that hold every word of `query`, best match first, within the filters.

    `status` is a draft status (or "undrafted"); `source` is a source's name
    (the story has at least one item from it). Raises SearchError on bad input.
    """
    words = terms(query)
    day_from, day_to = _check_day(day_from, "from"), _check_day(day_to, "to")
    if day_from and day_to and day_from > day_to:
        raise SearchError(f"the range ends ({day_to}) before it starts ({day_from})")
    if status and status not in STATUSES:
        raise SearchError(f"unknown status {status!r}: use one of {', '.join(STATUSES)}")
    found = _matches(session, words)
    if not found:
        return []
    # Filter on ids alone, then load (and cut snippets for) only the stories shown: a common word can
    # match thousands of stories, and loading them all cost seconds (bench/search.py).
    passing: list[int] = []
    candidates = list(found)
    for start in range(0, len(candidates), 5000):
        q = select(Story.id).where(Story.id.in_(candidates[start:start + 5000]), Story.active.is_(True))
        if day_from:
            q = q.where(Story.day >= day_from)
        if day_to:
            q = q.where(Story.day <= day_to)
        if status == "undrafted":
            q = q.where(~exists().where(Draft.story_id == Story.id))
        elif status:
            q = q.where(exists().where(and_(Draft.story_id == Story.id, Draft.status == status)))
        if source:
            q = q.where(exists().where(and_(StoryItem.story_id == Story.id, StoryItem.item_id == Item.id,
                                            Item.source_id == Source.id, Source.name == source)))
        passing += session.scalars(q).all()
    passing.sort(key=lambda i: (-found[i][0], -i))  # best match first; ties: the newest story
    shown = passing[:limit]
    q = (select(Story).where(Story.id.in_(shown))
         .options(selectinload(Story.draft),
                  selectinload(Story.items).selectinload(StoryItem.item).selectinload(Item.source),
                  selectinload(Story.items).selectinload(StoryItem.item).selectinload(Item.article)))
    hits = []
    for story in session.scalars(q):
        score, kinds = found[story.id]
        d = story.draft
        hits.append(Hit(
            story_id=story.id, day=story.day,
            headline=(d.headline if d and d.headline else story.title) or "",
            status=d.status if d else "undrafted", score=round(score, 6),
            found_in=[k for k in ("story", "draft", "source") if k in kinds],
            sources=sorted({si.item.source.name for si in story.items}),
            snippet=_snippet(story, words),
        ))
    order = {story_id: n for n, story_id in enumerate(shown)}
    hits.sort(key=lambda h: order[h.story_id])
    return hits


def rebuild(session: Session) -> dict[str, int]:
    """Refill the index from the rows; returns rows indexed per table. PostgreSQL's vectors are computed
    columns, so there only the GIN indexes are rebuilt."""
    dialect = session.get_bind().dialect.name
    counts: dict[str, int] = {}
    if dialect == "sqlite":
        for table, (fts, cols, exprs) in SQLITE_TEXT.items():
            session.execute(text(f"DELETE FROM {fts}"))
            rows = ", ".join(e.format(r=table) for e in exprs)
            session.execute(text(f"INSERT INTO {fts}(rowid, {', '.join(cols)}) SELECT {table}.id, {rows} FROM {table}"))
            counts[table] = session.execute(text(f"SELECT count(*) FROM {fts}")).scalar_one()
    elif dialect == "postgresql":
        for table in ("stories", "drafts", "items", "articles"):
            session.execute(text(f"REINDEX INDEX ix_{table}_search"))
            counts[table] = session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    else:
        raise SearchError(f"full-text search needs SQLite or PostgreSQL, not {dialect}")
    return counts
