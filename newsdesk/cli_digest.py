"""`newsdesk digest show|set`: a day's digest as a visible property (style, title, intro, order).

The style a day is published in is the day's, set here or on the desk's digest
page; `publish --style` overrides it for one publication only, so nothing
sticks unseen. Mounted by newsdesk.cli.
"""
from __future__ import annotations

import json
from typing import Any, Optional

import typer

from newsdesk.config import STYLES, ConfigError

digest_app = typer.Typer(help="A day's digest: its house style, title and intro.", no_args_is_help=True)


def _cli():
    from newsdesk import cli

    return cli


def describe(data: Any) -> dict[str, Any]:
    """The digest's visible properties, as `digest show --json` prints them."""
    return {"day": data.day, "style": data.style, "status": data.status, "title": data.title, "intro": data.intro,
            "version": data.version,
            "stories": [{"id": e.story_id, "number": e.number, "headline": e.headline, "section": e.section}
                        for e in data.entries]}


@digest_app.command("show")
def show(day: str = typer.Option(..., "--day", help="Digest day YYYY-MM-DD."),
         as_json: bool = typer.Option(False, "--json")) -> None:
    """The day's style, title, intro and the approved stories in digest order."""
    from newsdesk.config import parse_day
    from storage import desk

    cli = _cli()

    def body() -> None:
        parse_day(day)
        db = cli._ready_db()
        try:
            with db.session() as s:
                info = describe(desk.digest_data(s, day))
        finally:
            db.dispose()
        if as_json:
            print(json.dumps(info, indent=2))
            return
        line = cli.out.print
        line(f"{day}: style {info['style']} ({info['status']}, version {info['version']})", highlight=False)
        line(f"  title: {info['title'] or '(the style default)'}", highlight=False, soft_wrap=True)
        line(f"  intro: {info['intro'] or '-'}", highlight=False, soft_wrap=True)
        for st in info["stories"]:
            section = f" [{st['section']}]" if st["section"] else ""
            line(f"  {st['number']}. #{st['id']}{section} {st['headline']}", highlight=False, soft_wrap=True)
        if not info["stories"]:
            line("  no approved stories yet", highlight=False)
    cli.guarded(body)


@digest_app.command("set")
def set_(
    day: str = typer.Option(..., "--day", help="Digest day YYYY-MM-DD."),
    style: Optional[str] = typer.Option(None, "--style", help=f"The day's house style: {' or '.join(STYLES)}."),
    title: Optional[str] = typer.Option(None, "--title", help="The digest's title ('' for the style's default)."),
    intro: Optional[str] = typer.Option(None, "--intro", help="The digest's intro paragraph ('' for none)."),
    editor: Optional[str] = typer.Option(None, "--as", help="Editor name (audit log)."),
) -> None:
    """Set the day's style, title or intro (audited, like the desk's digest page)."""
    from newsdesk.config import parse_day
    from storage import desk

    cli = _cli()

    def body() -> None:
        parse_day(day)
        if style is not None and style not in STYLES:
            raise ConfigError(f"unknown style {style!r}: use one of {', '.join(STYLES)}")
        if style is None and title is None and intro is None:
            raise ConfigError("nothing to set: add --style, --title and/or --intro")
        db = cli._ready_db()
        try:
            with db.session() as s:
                desk.update_digest(s, day, cli._actor(editor), style=style,
                                   title=title.strip() if title is not None else None,
                                   intro=intro.strip() if intro is not None else None)
                info = describe(desk.digest_data(s, day))
        finally:
            db.dispose()
        cli.out.print(f"{day}: style {info['style']}, title {info['title'] or '(the style default)'}"
                      f"{', with an intro' if info['intro'] else ''}", highlight=False, soft_wrap=True)
    cli.guarded(body)


@digest_app.command("plan")
def plan(
    day: str = typer.Option(..., "--day", help="Digest day YYYY-MM-DD."),
    replace: bool = typer.Option(False, "--replace", help="Replace a title and intro already set (editors' section headings are always kept)."),
) -> None:
    """Propose the day's title, intro and 3-5 section headings from its drafts: the LLM's when configured, else extractive."""
    from flows.pipeline import frame_day
    from newsdesk.config import parse_day
    from storage import desk

    cli = _cli()

    def body() -> None:
        parse_day(day)
        db = cli._ready_db()
        try:
            with db.session() as s:
                changed = frame_day(s, day, framing=True, replace=replace, settings=cli.settings(),
                                    note=lambda text: cli.out.print(f"note: {text}", highlight=False, soft_wrap=True))
                info = describe(desk.digest_data(s, day, approved_only=False))
        finally:
            db.dispose()
        cli.out.print(f"{day}: title {info['title'] or '(unchanged)'}; {changed['sections']} section heading(s) set",
                      highlight=False, soft_wrap=True)
        for heading in dict.fromkeys(st["section"] for st in info["stories"] if st["section"]):
            cli.out.print(f"  ## {heading}", highlight=False, soft_wrap=True)
    cli.guarded(body)
