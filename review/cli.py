"""`newsdesk users ...`: the typer sub-app the main CLI mounts (`app.add_typer(users_app, name="users")`)."""
from __future__ import annotations

import sys

import typer

from review.users import ROLES, Account, UserError, add_user, list_users, reset_password, set_active
from storage.db import Database, DatabaseNotReady
from storage.dburl import DatabaseURLError

users_app = typer.Typer(help="Desk accounts: editors review and publish; admins also manage users and publish corrections.",
                        no_args_is_help=True)


def _database(database_url: str | None) -> Database:
    if database_url is None:
        try:
            from newsdesk.config import load_settings

            database_url = load_settings().database_url
        except Exception as exc:  # no config module or no setting: ask for the URL explicitly
            raise typer.BadParameter(f"no database configured ({exc.__class__.__name__}); pass --database-url") from exc
    try:
        db = Database(database_url)
    except DatabaseURLError as exc:
        typer.echo(f"error: database URL: {exc}", err=True)
        raise typer.Exit(1) from exc
    try:
        db.check_ready()
    except DatabaseNotReady as exc:
        db.dispose()
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc  # the same exit code as every other newsdesk command
    return db


def _read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_app.command("add")
def add(
    name: str = typer.Argument(..., help="Login name"),
    role: str = typer.Option("editor", "--role", help=f"One of: {', '.join(ROLES)}"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from the first line of stdin"),
    database_url: str | None = typer.Option(None, "--database-url", envvar="NEWSDESK_DATABASE_URL", help="SQLAlchemy URL"),
) -> None:
    """Add a desk account; the password is prompted for (or read from stdin)."""
    db = _database(database_url)
    try:
        account = add_user(db, name, role, _read_password(password_stdin), actor="cli")
    except UserError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        db.dispose()
    typer.echo(f"added {account.role} {account.name}")


@users_app.command("list")
def list_(
    database_url: str | None = typer.Option(None, "--database-url", envvar="NEWSDESK_DATABASE_URL", help="SQLAlchemy URL"),
) -> None:
    """List desk accounts."""
    db = _database(database_url)
    try:
        rows = list_users(db)
    finally:
        db.dispose()
    if not rows:
        typer.echo("no users yet: add one with `newsdesk users add NAME --role admin`")
    for u in rows:
        typer.echo(f"{u['name']}\t{u['role']}\t{'active' if u['active'] else 'disabled'}\t{u['created_at']:%Y-%m-%d}")


def _fail(exc: Exception) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(1) from exc


def _set_active(database_url: str | None, name: str, active: bool) -> Account:
    """Enable or disable an account from the CLI (the audit log names the CLI as the actor)."""
    db = _database(database_url)
    try:
        return set_active(db, name, active, actor="cli")
    except UserError as exc:
        _fail(exc)
    finally:
        db.dispose()


@users_app.command("disable")
def disable(
    name: str = typer.Argument(..., help="Login name"),
    database_url: str | None = typer.Option(None, "--database-url", envvar="NEWSDESK_DATABASE_URL", help="SQLAlchemy URL"),
) -> None:
    """Disable an account: it can no longer sign in, and its open sessions end now."""
    account = _set_active(database_url, name, False)
    typer.echo(f"disabled {account.name} (signed out everywhere)")


@users_app.command("enable")
def enable(
    name: str = typer.Argument(..., help="Login name"),
    database_url: str | None = typer.Option(None, "--database-url", envvar="NEWSDESK_DATABASE_URL", help="SQLAlchemy URL"),
) -> None:
    """Enable a disabled account again."""
    account = _set_active(database_url, name, True)
    typer.echo(f"enabled {account.name}")


@users_app.command("reset-password")
def reset(
    name: str = typer.Argument(..., help="Login name"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the new password from the first line of stdin"),
    database_url: str | None = typer.Option(None, "--database-url", envvar="NEWSDESK_DATABASE_URL", help="SQLAlchemy URL"),
) -> None:
    """Set a new password; the user's open sessions end (they sign in again with it)."""
    db = _database(database_url)
    try:
        account = reset_password(db, name, _read_password(password_stdin), actor="cli")
    except UserError as exc:
        _fail(exc)
    finally:
        db.dispose()
    typer.echo(f"password reset for {account.name} (signed out everywhere)")
