"""`newsdesk add URL`: an editor's own link, fetched, extracted and placed into a story of the day.

Registered on the main app by newsdesk.cli; configuration comes from its settings (read once).
"""
from __future__ import annotations

import json
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("add")
    def add_command(
        url: str = typer.Argument(..., metavar="URL", help="The page to add (http or https)."),
        day: Optional[str] = typer.Option(None, "--day", help="The digest day, YYYY-MM-DD (default: today)."),
        note: Optional[str] = typer.Option(None, "--note", help="Why it matters; shown beside the source, and told to the model with --draft."),
        draft: bool = typer.Option(False, "--draft", help="Draft (or redraft) its story now."),
        editor: Optional[str] = typer.Option(None, "--as", help="Editor name (default NEWSDESK_EDITOR or your login)."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Add a link by hand: fetched politely (robots.txt, the same address rules as collecting), then placed."""
        from flows import add_link as adding
        from flows.pipeline import Context
        from newsdesk import cli

        def body():
            db = cli._ready_db()
            try:
                return adding.add_link(Context(cli.settings(), db), url, actor=cli._actor(editor), day=day, note=note,
                                       draft=draft)
            finally:
                db.dispose()

        result = cli.guarded(body)
        if as_json:
            print(json.dumps(adding.as_dict(result), ensure_ascii=False, indent=2))
            return
        cli.out.print(adding.describe(result), markup=False, highlight=False, soft_wrap=True)
        for line in result.notes:
            cli.err.print(f"note: {line}", markup=False, highlight=False, soft_wrap=True)
