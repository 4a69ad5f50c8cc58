"""Full-text search over stories, drafts and sources: SQLite FTS5 and PostgreSQL tsvector, the CLI and the desk."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select, text
from typer.testing import CliRunner

from archive_days import add_day
from newsdesk.cli import app
from storage import desk, search
from storage.db import Database, _alembic_config
from storage.models import Article, Draft, Item
from storage.writes import ItemWrite, StoryWrite, replace_day_stories, upsert_items
from test_review_http import DAY, PASSWORD, logged_in, make_client, seed


def ids(hits: list[search.Hit]) -> list[int]:
    return [h.story_id for h in hits]


def find(db: Database, query: str, **filters) -> list[search.Hit]:
    with db.session() as s:
        return search.search(s, query, **filters)


def test_finds_stories_by_their_title_draft_or_sources(db: Database) -> None:
    keys = seed(db)
    (hit,) = find(db, "coding benchmarks")  # summary and source text, not the headline
    assert hit.story_id == keys["falcon"] and hit.found_in == ["draft", "source"] and hit.day == DAY
    assert hit.sources == ["Lab Blog", "Wire"] and "benchmark" in hit.snippet.lower()
    assert ids(find(db, "Falcon")) == [keys["falcon"]] and find(db, "Falcon")[0].found_in == ["story", "draft", "source"]
    assert ids(find(db, "9B-parameter")) == [keys["falcon"]]  # only in the lab's own post
    assert ids(find(db, "policy")) == [keys["chips"]]  # a tag
    assert ids(find(db, "capital robots")) == [keys["robots"]]  # every word, in any order, stemmed
    assert ids(find(db, "released")) == [keys["falcon"]] and ids(find(db, "releases")) == [keys["falcon"]]
    assert find(db, "falcon accelerators") == []  # all words must be in one story
    assert find(db, "source_ids") == [] and find(db, "text") == []  # JSON keys are not text


def test_filters_by_day_range_status_and_source(db: Database) -> None:
    keys = seed(db)
    older = add_day(db, "2026-11-10", [("old", "Falcon rumours swirl", ["Models"])], source="Gossip Wire")
    assert set(ids(find(db, "falcon"))) == {keys["falcon"], older["old"]}
    assert ids(find(db, "falcon", day_from="2026-11-11")) == [keys["falcon"]]
    assert ids(find(db, "falcon", day_to="2026-11-17")) == [older["old"]]
    assert ids(find(db, "falcon", day_from="2026-11-10", day_to="2026-11-10")) == [older["old"]]
    assert ids(find(db, "falcon", source="Gossip Wire")) == [older["old"]]
    assert ids(find(db, "falcon", source="Lab Blog")) == [keys["falcon"]]
    assert find(db, "falcon", source="Nobody") == []
    with db.session() as s:
        desk.approve(s, older["old"], "ana")
    assert ids(find(db, "falcon", status="approved")) == [older["old"]]
    assert ids(find(db, "falcon", status="pending")) == [keys["falcon"]]
    assert find(db, "falcon", status="undrafted") == []


@pytest.mark.parametrize("bad, message", [
    ("", "at least one word"), ("  ?! ", "at least one word"), ("x" * 501, "longer than 500"),
])
def test_bad_queries_are_one_line_errors(db: Database, bad: str, message: str) -> None:
    seed(db)
    with pytest.raises(search.SearchError, match=message):
        find(db, bad)
    with pytest.raises(search.SearchError, match="a day like"):
        find(db, "falcon", day_from="18/11/2026")
    with pytest.raises(search.SearchError, match="ends"):
        find(db, "falcon", day_from="2026-11-19", day_to="2026-11-18")
    with pytest.raises(search.SearchError, match="unknown status"):
        find(db, "falcon", status="published")


def test_query_syntax_from_users_is_only_words(db: Database) -> None:
    keys = seed(db)
    for q in ('"falcon', "falcon OR", "NEAR(falcon", "falcon*", "falcon AND -", "falcon:^", "'falcon' ;--"):
        assert ids(find(db, q)) == [keys["falcon"]], q


def test_the_index_follows_every_write(db: Database) -> None:
    keys = seed(db)
    with db.session() as s:
        d = s.scalars(select(Draft).where(Draft.story_id == keys["chips"])).one()
        desk.edit(s, keys["chips"], "ana", expected_version=d.version,
                  changes={"headline": "Semiconductor curbs widen", "tags": ["Trade"]})
    assert ids(find(db, "semiconductor")) == [keys["chips"]]
    assert find(db, "policy") == [] and ids(find(db, "trade")) == [keys["chips"]]

    with db.session() as s:  # a source's text changes on a later fetch
        wire = s.scalars(select(Item).where(Item.guid == "w3")).one()
        upsert_items(s, wire.source_id, [ItemWrite(kind="article", guid="w3", url="https://wire.test/c", title="Robot lab funding",
                                                   text="A humanoid robotics startup raised money.", content_hash="h3b")])
    assert ids(find(db, "humanoid")) == [keys["robots"]]

    with db.session() as s:  # an extracted article joins the index as soon as it is written
        art = (s.scalars(select(Article).where(Article.canonical_url == "https://wire.test/b")).one_or_none()
               or Article(canonical_url="https://wire.test/b"))  # collecting may have queued it already
        art.status, art.title, art.text = "ok", "Export rules", "Lithography tools are covered too."
        s.add(art)
        s.flush()
        s.scalars(select(Item).where(Item.guid == "w2")).one().article_id = art.id
    assert ids(find(db, "lithography")) == [keys["chips"]]

    with db.session() as s:  # a rerun regroups the day: stories gone from it are gone from search
        robots_item = s.scalars(select(Item).where(Item.guid == "w3")).one().id
        replace_day_stories(s, DAY, [StoryWrite(key="robots", title="Robots", item_ids=[robots_item], rank=1, score=1.0, reasons=[])])
    assert find(db, "falcon") == [] and ids(find(db, "humanoid")) == [keys["robots"]]


def test_the_index_can_be_rebuilt(db: Database) -> None:
    keys = seed(db)
    dialect = db.engine.dialect.name
    if dialect == "sqlite":  # damage it: the rows are there, the index lost them
        with db.engine.begin() as conn:
            for fts in ("search_stories", "search_drafts", "search_items", "search_articles"):
                conn.execute(text(f"DELETE FROM {fts}"))
        assert find(db, "falcon") == []
    with db.session() as s:
        counts = search.rebuild(s)
    assert counts["stories"] == 3 and counts["drafts"] == 3 and counts["items"] == 4
    assert ids(find(db, "falcon")) == [keys["falcon"]]
    with db.session() as s:
        assert search.rebuild(s) == counts  # rebuilding twice changes nothing


def test_migration_indexes_rows_written_before_it_and_steps_down_cleanly(db: Database) -> None:
    keys = seed(db)
    cfg = _alembic_config(db.engine)
    with db.engine.begin() as conn:  # back to the schema before search: the rows stay, the index goes
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004")
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM drafts")).scalar_one() == 3
    db.migrate()  # the upgrade indexes what is already there
    assert ids(find(db, "coding benchmarks")) == [keys["falcon"]]


# ------------------------------------------------------------------ CLI and desk


def cli(db: Database, tmp_path: Path, *args: str, code: int = 0) -> str:
    env = {"NEWSDESK_DATA_DIR": str(tmp_path / "data"), "NEWSDESK_DATABASE_URL": db.url}
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def test_cli_search_prints_a_table_or_json(db: Database, tmp_path: Path) -> None:
    keys = seed(db)
    rows = json.loads(cli(db, tmp_path, "search", "coding", "benchmarks", "--json"))
    assert [r["story_id"] for r in rows] == [keys["falcon"]] and rows[0]["found_in"] == ["draft", "source"]
    assert json.loads(cli(db, tmp_path, "search", "falcon", "--status", "approved", "--json")) == []
    table = cli(db, tmp_path, "search", "falcon")
    assert "Falcon-9B" in table and DAY in table and "pending" in table
    assert "no stories match" in cli(db, tmp_path, "search", "zeppelin")
    assert "rebuilt" in cli(db, tmp_path, "search", "--rebuild")
    out = cli(db, tmp_path, "search", "falcon", "--from", "yesterday", code=1)
    assert out.strip().startswith("error:") and "a day like" in out and len(out.strip().splitlines()) == 1
    assert "give a QUERY" in cli(db, tmp_path, "search", code=1)


def test_desk_search_page(db: Database, tmp_path: Path) -> None:
    import types

    from review.settings import ReviewSettings
    from review.users import add_user

    keys = seed(db)
    add_user(db, "ana", "editor", PASSWORD)
    env = types.SimpleNamespace(settings=ReviewSettings(database_url=db.url, secret_key="test-secret-key-0123456789",
                                                        publish_dir=tmp_path / "site"))
    assert make_client(env.settings).get("/search?q=falcon").status_code in (302, 303)  # editors only
    client = logged_in(env)
    page = client.get("/search", params={"q": "coding benchmarks", "source": "Lab Blog"})
    assert page.status_code == 200 and f'href="/story/{keys["falcon"]}"' in page.text
    assert "draft, source" in page.text and "<script>alert" not in page.text
    page = client.get("/search", params={"q": "falcon", "status": "approved"})
    assert "No stories match" in page.text
    page = client.get("/search", params={"q": "falcon", "day_from": "nonsense"})
    assert page.status_code == 400 and "a day like" in page.text
    assert 'href="/search"' in client.get("/").text
