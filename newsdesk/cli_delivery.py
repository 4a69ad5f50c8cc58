"""`newsdesk subscribers ...` and the sending half of `newsdesk publish` / `newsdesk send`.

Mounted by newsdesk.cli; configuration comes from its settings (read once).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Optional

import typer

from newsdesk.config import ConfigError, Settings

subscribers_app = typer.Typer(help="Newsletter subscribers (an unsubscribe is kept: imports never re-add them).",
                              no_args_is_help=True)

CHANNEL_HELP = "Post the digest link and headlines to this channel: discord, telegram, mastodon, bluesky, or all (repeatable)."


def _ctx() -> tuple[Callable[[], Settings], Callable[[Callable[[], Any]], Any], Any, Callable[[str | None], str]]:
    from newsdesk import cli

    return cli.settings, cli.guarded, cli.out, cli._actor


def _db():
    from newsdesk import cli

    return cli._ready_db()


def _in_session(work: Callable[[Any], Any]) -> Any:
    """Run `work(session)` in one transaction on a ready database, then let the database go."""
    db = _db()
    try:
        with db.session() as s:
            return work(s)
    finally:
        db.dispose()


@subscribers_app.command("add")
def subscribers_add(
    email: str = typer.Argument(..., help="The address."),
    name: Optional[str] = typer.Option(None, "--name"),
    force: bool = typer.Option(False, "--force", help="Re-add someone who unsubscribed or bounced (only with their renewed consent)."),
    editor: Optional[str] = typer.Option(None, "--as", help="Who is adding (audit log)."),
) -> None:
    """Add an active subscriber (you vouch for their consent; the web form asks them itself)."""
    from storage import subscribers

    settings, guarded, out, actor = _ctx()

    def body() -> None:
        def add(s: Any) -> tuple[str, str, bool]:
            row, changed = subscribers.add(s, email, actor(editor), name=name, force=force)
            return row.email, row.status, changed

        address, status, changed = _in_session(add)
        out.print(f"{'added' if changed else 'already'} {status}: {address}", highlight=False, soft_wrap=True)
    guarded(body)


@subscribers_app.command("remove")
def subscribers_remove(
    email: str = typer.Argument(..., help="The address."),
    forget: bool = typer.Option(False, "--forget", help="Delete every trace instead of keeping the unsubscribe (a later import could re-add them)."),
    editor: Optional[str] = typer.Option(None, "--as"),
) -> None:
    """Unsubscribe an address at once (kept as unsubscribed), or --forget it entirely."""
    from storage import subscribers

    settings, guarded, out, actor = _ctx()

    def body() -> None:
        _in_session(lambda s: subscribers.remove(s, email, actor(editor), forget=forget))
        out.print(f"{'forgot' if forget else 'unsubscribed'} {email.strip().lower()}", highlight=False, soft_wrap=True)
    guarded(body)


@subscribers_app.command("list")
def subscribers_list(
    status: Optional[str] = typer.Option(None, "--status", help="pending, active, unsubscribed or bounced."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Subscribers with their status; counts per status at the end."""
    from storage import subscribers

    settings, guarded, out, actor = _ctx()

    def body() -> None:
        def read(s: Any) -> tuple[list[dict[str, Any]], dict[str, int]]:
            rows = [{"email": r.email, "name": r.name, "status": r.status, "source": r.source,
                     "since": (r.confirmed_at or r.created_at).isoformat(), "last_error": r.last_error}
                    for r in subscribers.list_subscribers(s, status)]
            return rows, subscribers.counts(s)

        rows, totals = _in_session(read)
        if as_json:
            print(json.dumps({"subscribers": rows, "counts": totals}, indent=2))
            return
        for r in rows:
            extra = f"\t{r['last_error']}" if r["last_error"] else ""
            print(f"{r['email']}\t{r['status']}\t{r['source']}\t{r['since'][:10]}{extra}")  # tab-separated, for scripts
        out.print(", ".join(f"{n} {k}" for k, n in sorted(totals.items())) or "no subscribers yet", highlight=False, soft_wrap=True)
    guarded(body)


@subscribers_app.command("import")
def subscribers_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="CSV with an 'email' column (and optionally 'name'), or one address per line."),
    editor: Optional[str] = typer.Option(None, "--as"),
) -> None:
    """Add every address of a CSV as active; unsubscribed and bounced addresses are kept out, bad lines reported."""
    from storage import subscribers

    settings, guarded, out, actor = _ctx()

    def body() -> None:
        text = file.read_text(encoding="utf-8-sig", errors="replace")
        report = _in_session(lambda s: subscribers.import_csv(s, text, actor(editor)))
        out.print(f"imported {file.name}: {report.added} added, {report.reactivated} re-activated, {report.unchanged} unchanged, "
                  f"{len(report.kept_out)} kept out (unsubscribed or bounced), {len(report.invalid)} invalid", highlight=False, soft_wrap=True)
        for line in report.invalid[:50]:
            out.print(f"  ! {line}", highlight=False, soft_wrap=True)
    guarded(body)


def send_after_publish(settings: Settings, day: str, *, email: bool, channels: list[str], notify: bool, actor: str,
                       print_line: Callable[[str], None]) -> bool:
    """Send the day's latest revision; prints the report; False when something is left for a rerun."""
    from review.delivery.send import send_revision_sync

    db = _db()
    try:
        report = send_revision_sync(db, settings.delivery, day, email=email, channels=channels, notify=notify, actor=actor)
    finally:
        db.dispose()
    for line in report.lines():
        print_line(line)
    pending = report.stopped or report.email.get("deferred") or any(
        not v.startswith(("sent", "already", "not posted")) for v in report.channels.values())
    return not pending


def check_send_options(settings: Settings, email: bool, channels: list[str]) -> None:
    """Fail before publishing when the sending half could not run (missing configuration)."""
    from review.delivery.send import check_channels, check_email

    try:
        if email:
            check_email(settings.delivery)
        check_channels(settings.delivery, channels)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
