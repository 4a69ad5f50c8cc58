"""`newsdesk search QUERY`: the desk's full-text search from the command line.

Registered on the main app by newsdesk.cli; configuration comes from its settings (read once).
"""
from __future__ import annotations

import json
from dataclasses import asdict
from typing import Optional

import typer
from rich.table import Table


def register(app: typer.Typer) -> None:
    @app.command("search")
    def search_command(
        words: Optional[list[str]] = typer.Argument(None, metavar="QUERY", help="Words to find (all of them) in stories, drafts and sources."),
        day_from: Optional[str] = typer.Option(None, "--from", help="First day, YYYY-MM-DD."),
        day_to: Optional[str] = typer.Option(None, "--to", help="Last day, YYYY-MM-DD."),
        status: Optional[str] = typer.Option(None, "--status", help="pending, approved, rejected, needs_human or undrafted."),
        source: Optional[str] = typer.Option(None, "--source", help="Only stories with an item from this source (its name)."),
        limit: int = typer.Option(50, "--limit", min=1, max=500),
        as_json: bool = typer.Option(False, "--json"),
        rebuild: bool = typer.Option(False, "--rebuild", help="Refill the search index from the database first."),
    ) -> None:
        """Find stories by a word in their title, draft or sources."""
        from newsdesk import cli
        from storage import search

        query = " ".join(words or [])

        def body() -> None:
            if not query and not rebuild:
                raise search.SearchError("give a QUERY to search for (or --rebuild)")
            db = cli._ready_db()
            try:
                with db.session() as s:
                    if rebuild:
                        counts = search.rebuild(s)
                        if not query:
                            summary = ", ".join(f"{n} {t}" for t, n in counts.items())
                            cli.out.print(json.dumps(counts) if as_json else f"search index rebuilt: {summary}",
                                          markup=False, highlight=False)
                            return
                    hits = search.search(s, query or "", day_from=day_from, day_to=day_to, status=status,
                                         source=source, limit=limit)
            finally:
                db.dispose()
            if as_json:
                print(json.dumps([asdict(h) for h in hits], ensure_ascii=False, indent=2))
                return
            if not hits:
                cli.out.print("no stories match", markup=False, highlight=False)
                return
            table = Table("ID", "Day", "Status", "Headline", "Found in", "Sources")
            for h in hits:
                table.add_row(str(h.story_id), h.day, h.status, h.headline, ", ".join(h.found_in), ", ".join(h.sources))
            cli.out.print(table)

        cli.guarded(body)
