"""What the full-text index holds, as SQL: shared by migration 0007 (triggers, generated columns) and
`storage.search.rebuild`, so a rebuilt index is exactly what the triggers would have written.

Changing these needs a new migration: the triggers and generated columns already in a database keep
the text they were created with. On SQLite, a later migration that rebuilds one of these tables
(`batch_alter_table` copies it into a new table) drops its triggers: such a migration must create
the triggers again. It cannot be placed before 0007 instead: a database already at 0007 would
never run it (see migration 0012).
"""
from __future__ import annotations

# The text each FTS5 row holds, as SQL over NEW (triggers) or the table itself (backfill). The JSON
# columns give their strings only (a summary's sentence texts, the tags), never key names or ids.
SQLITE_TEXT = {
    "stories": ("search_stories", ["title"], ["coalesce({r}.title, '')"]),
    "drafts": ("search_drafts", ["headline", "summary", "view", "tags"], [
        "coalesce({r}.headline, '')",
        "(SELECT coalesce(group_concat(json_extract(value, '$.text'), ' '), '') FROM json_each("
        "CASE WHEN json_valid({r}.summary) AND json_type({r}.summary) = 'array' THEN {r}.summary ELSE '[]' END) "
        "WHERE type = 'object')",
        "coalesce({r}.view, '')",
        "(SELECT coalesce(group_concat(value, ' '), '') FROM json_each("
        "CASE WHEN json_valid({r}.tags) AND json_type({r}.tags) = 'array' THEN {r}.tags ELSE '[]' END) "
        "WHERE type = 'text')",
    ]),
    "items": ("search_items", ["title", "text", "author"], [
        "coalesce({r}.title, '')", "coalesce({r}.text, '')", "coalesce({r}.author, '')"]),
    "articles": ("search_articles", ["title", "text", "site_name"], [
        "coalesce({r}.title, '')", "coalesce({r}.text, '')", "coalesce({r}.site_name, '')"]),
}

# PostgreSQL: the same text as one weighted tsvector (titles and headlines count most).
PG_VECTOR = {
    "stories": "setweight(to_tsvector('english', coalesce(title, '')), 'A')",
    "drafts": (
        "setweight(to_tsvector('english', coalesce(headline, '')), 'A') || "
        "setweight(jsonb_to_tsvector('english', coalesce(summary::jsonb, '[]'::jsonb), '[\"string\"]'), 'B') || "
        "setweight(to_tsvector('english', coalesce(\"view\", '')), 'C') || "
        "setweight(jsonb_to_tsvector('english', coalesce(tags::jsonb, '[]'::jsonb), '[\"string\"]'), 'A')"
    ),
    "items": (
        "setweight(to_tsvector('english', left(coalesce(title, ''), 2000)), 'A') || "
        "setweight(to_tsvector('english', left(coalesce(text, ''), 100000)), 'C') || "
        "setweight(to_tsvector('english', left(coalesce(author, ''), 500)), 'D')"
    ),
    "articles": (
        "setweight(to_tsvector('english', left(coalesce(title, ''), 2000)), 'A') || "
        "setweight(to_tsvector('english', left(coalesce(text, ''), 100000)), 'C') || "
        "setweight(to_tsvector('english', left(coalesce(site_name, ''), 500)), 'D')"
    ),
}
