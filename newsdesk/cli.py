"""The `newsdesk` command line.

Configuration is read once here (environment, then the global options) and
passed down. Errors a user can fix are one line on stderr and a non-zero exit,
never a traceback.
"""
from __future__ import annotations

import getpass
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from newsdesk.config import STAGES, ConfigError, Settings, load_settings

app = typer.Typer(help="newsdesk: a newsroom pipeline for AI news.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False, rich_markup_mode=None)
review_app = typer.Typer(help="Review the night's drafts.", no_args_is_help=True)
sources_app = typer.Typer(help="Manage sources (sources.yaml, OPML).", no_args_is_help=True)
llm_app = typer.Typer(help="The LLM endpoint drafting uses.", no_args_is_help=True)
app.add_typer(review_app, name="review")
app.add_typer(sources_app, name="sources")
app.add_typer(llm_app, name="llm")

out = Console()
err = Console(stderr=True)


class _State:
    settings: Settings | None = None


state = _State()


def settings() -> Settings:
    if state.settings is None:
        state.settings = load_settings()
    return state.settings


class NightStopped(RuntimeError):
    """The night stopped for a reason its message gives in full (a Dask stage that lost its workers):
    one line for the editor, as the run's notes say it, not the traceback of a failed flow."""


class _DropLogsOf(logging.Filter):
    """Drops console log records that carry an exception of the given kinds (Prefect's "Encountered
    exception" with its traceback): the CLI says why in one line; Prefect's own log keeps the record."""

    def __init__(self, kinds: tuple[type[BaseException], ...]):
        super().__init__()
        self.kinds = kinds

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], self.kinds))


def _quiet_console_about(*kinds: type[BaseException]) -> None:
    """Errors the CLI reports in one line (`guarded`) lose their traceback on the console."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _DropLogsOf) for f in handler.filters):
            handler.addFilter(_DropLogsOf(kinds))


def fail(message: str, code: int = 1) -> None:
    err.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)  # one line, however narrow the terminal
    raise typer.Exit(code)


def guarded(fn: Callable[[], Any]) -> Any:
    """Run a command body, turning the errors a user can fix into one-line messages."""
    from newsdesk.sources import SourcesError
    from storage.db import DatabaseNotReady
    from storage.desk import DeskError
    from storage.runlock import DayBusy

    try:
        return fn()
    except (ConfigError, DatabaseNotReady, DeskError, SourcesError, ValueError, DayBusy, NightStopped) as exc:
        fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


@app.callback()
def main_options(
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Where the SQLite database and published files live (NEWSDESK_DATA_DIR)."),
    database_url: Optional[str] = typer.Option(None, "--database-url", help="SQLAlchemy URL, e.g. postgresql+psycopg://... (NEWSDESK_DATABASE_URL)."),
) -> None:
    """Global options; they are equivalent to the environment variables named."""
    if data_dir is not None:
        os.environ["NEWSDESK_DATA_DIR"] = str(data_dir)
    if database_url is not None:
        os.environ["NEWSDESK_DATABASE_URL"] = database_url
    try:
        state.settings = load_settings()
    except ConfigError as exc:
        fail(str(exc))


def _db():
    from storage.db import Database

    return Database(settings().database_url)


def _ready_db():
    db = _db()
    db.check_ready()
    return db


def _actor(name: str | None) -> str:
    return name or os.environ.get("NEWSDESK_EDITOR") or getpass.getuser()


# ---------------------------------------------------------------- init / run


@app.command()
def init() -> None:
    """Create or upgrade the database (safe to run again)."""
    def body() -> None:
        db = _db()
        db.migrate()
        db.dispose()
        out.print(f"database ready: {_describe_db(settings().database_url)}", highlight=False)
    guarded(body)


def _describe_db(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


class BarReporter:
    """Rich progress bars for the stages (the flow reports through flows.progress)."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.tasks: dict[str, Any] = {}

    def start(self, stage: str, total: int) -> None:
        self.tasks[stage] = self.progress.add_task(stage, total=max(total, 1), status="")

    def advance(self, stage: str, n: int = 1) -> None:
        if stage in self.tasks:
            self.progress.advance(self.tasks[stage], n)

    def done(self, stage: str) -> None:
        if stage in self.tasks:
            t = self.tasks[stage]
            self.progress.update(t, completed=self.progress.tasks[t].total)

    def status(self, stage: str, text: str) -> None:
        if stage in self.tasks:
            self.progress.update(self.tasks[stage], status=text)


def _prefect_env() -> None:
    """Settings for the embedded (ephemeral) Prefect server the CLI starts: patient startup, quiet logs,
    and no telemetry (it fails offline and logs an error on every run)."""
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def run_flow(day: str | None, from_stage: str, force: bool, sources: list[str] | None, max_stories: int | None,
             style: str | None, story: int | None = None) -> dict[str, Any]:
    """Run the nightly flow with progress bars; returns its statistics."""
    _prefect_env()
    from newsdesk.sources import check_source_names

    s = settings()
    if sources or (story is None and from_stage == "collect"):
        # a broken sources file or an unknown --source is one line, before Prefect is even imported
        # (not a failed flow half a minute later)
        check_source_names(s.sources_file, sources or [])
    from flows.params import validate_params

    the_day = validate_params(s, day, from_stage, style, max_stories)[0]  # fail fast, before Prefect starts
    db = _ready_db()
    try:  # a day another run holds is one line now, not a failed flow (the flow takes the lock for real)
        if story is None:
            from storage.runlock import DayRunLock

            DayRunLock(db, the_day, wait=s.lock_wait).acquire().release()
    finally:
        db.dispose()
    if story is None and STAGES.index(from_stage) <= STAGES.index("draft"):
        # the LLM's first-night probe waits on its server while Prefect's starts
        from flows import probe_ahead

        probe_ahead.start(s, the_day)
    from flows.nightly import nightly  # Prefect: seconds to import, so only once the night can start
    from flows.progress import set_reporter
    from flows.scaleout import BatchesStalled
    from newsdesk.sources import SourcesError
    from storage.desk import DeskError
    from storage.runlock import DayBusy

    _quiet_console_about(BatchesStalled, ConfigError, SourcesError, DeskError, DayBusy)

    with Progress(TextColumn("{task.description:>8}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[status]}"), console=err, transient=False) as progress:
        set_reporter(BarReporter(progress))
        try:
            if story is not None:
                from flows.nightly import rerun

                return rerun(day=_story_day(story, day), from_stage="draft", force=True, style=style, story=story)
            return nightly(day=day, sources=sources or None, max_stories=max_stories, style=style, from_stage=from_stage, force=force)
        except BatchesStalled as exc:
            raise NightStopped(str(exc)) from None
        finally:
            set_reporter(None)


def _story_day(story_id: int, day: str | None) -> str:
    """The day a story belongs to (a story id names its day; --day must agree)."""
    from storage.desk import NotFound
    from storage.models import Story

    db = _ready_db()
    try:
        with db.session() as s:
            story = s.get(Story, story_id)
            if story is None:
                raise NotFound(f"no story with id {story_id}")
            story_day = story.day
    finally:
        db.dispose()
    if day and day != story_day:
        raise ConfigError(f"story #{story_id} belongs to {story_day}, not {day}")
    return story_day


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 source', '2 sources'."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def print_run(stats: dict[str, Any]) -> None:
    c, x, cl, d = (stats.get(k, {}) for k in ("collect", "extract", "cluster", "draft"))
    style = f" ({stats['style']})" if stats.get("style") else ""  # `collect` alone drafts nothing: no style
    out.print(f"[bold]Night of {stats['day']}[/bold]{style}")
    if c:
        out.print(f"  collect: {plural(c['fetched'], 'item')} from {plural(len(c['sources']), 'source')}, {c['new']} new, "
                  f"{plural(c['failed'], 'source')} failed", soft_wrap=True)
        for r in c["sources"]:
            if r["status"] == "error":
                flag = " [red](flagged)[/red]" if r.get("flagged") else ""
                out.print(f"    ! {r['source']}: {r['error']}{flag}", highlight=False)
    if x:
        out.print(f"  extract: {plural(x['articles'], 'page')}, {x['ok']} extracted, {x['fallback']} using feed summaries, {x['failed']} failed")
    if cl:
        out.print(f"  cluster: {plural(cl['items'], 'item')} -> {plural(cl['stories'], 'story', 'stories')} "
                  f"({cl['multi_source']} with several sources, {cl['continuing']} continuing)")
    if d:
        out.print(f"  draft:   {d['drafted']} drafted, {d['cached']} unchanged (cached), {d['needs_human']} need a human, "
                  f"{d['calls']} LLM calls, {d['tokens']} tokens, ${d['cost_usd']:.4f}")
    for note in stats.get("notes", []):
        out.print(f"  note: {note}", highlight=False)


@app.command()
def run(
    day: Optional[str] = typer.Option(None, "--day", help="Digest day YYYY-MM-DD (default: today in NEWSDESK_TIMEZONE)."),
    from_stage: str = typer.Option("collect", "--from-stage", help=f"Start at this stage: {', '.join(STAGES)}."),
    force: bool = typer.Option(False, "--force", help="Ignore caches: refetch, recluster and redraft (editors' work is kept; use --story to redo one)."),
    source: Optional[list[str]] = typer.Option(None, "--source", help="Only this source (repeatable)."),
    max_stories: Optional[int] = typer.Option(None, "--max-stories", help="Draft at most this many stories."),
    style: Optional[str] = typer.Option(None, "--style", help="awesome-ai-daily or ai-news-digest."),
    story: Optional[int] = typer.Option(None, "--story", help="Only redraft this story id (implies --from-stage draft)."),
) -> None:
    """Run the nightly pipeline for one day (collect, extract, cluster, draft, queue)."""
    stats = guarded(lambda: run_flow(day, from_stage, force, source, max_stories, style, story))
    print_run(stats)


@app.command()
def collect(
    day: Optional[str] = typer.Option(None, "--day", help="Digest day YYYY-MM-DD."),
    source: Optional[list[str]] = typer.Option(None, "--source", help="Only this source (repeatable)."),
) -> None:
    """Collect sources only (no Prefect), e.g. to check a new source."""
    from flows import pipeline
    from flows.params import validate_params  # not flows.nightly: collect runs without Prefect

    def body() -> dict[str, Any]:
        s = settings()
        d, _, _ = validate_params(s, day, "collect", None, None)
        db = _ready_db()
        try:
            return {"day": d, "collect": pipeline.collect_stage(pipeline.Context(s, db), d, source)}
        finally:
            db.dispose()
    print_run(guarded(body))


# ---------------------------------------------------------------- review


def _print_rows(rows, summary=None) -> None:
    table = Table(show_lines=False)
    for col in ("id", "day", "rank", "status", "src", "lint", "claims", "headline"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(str(r.id), r.day, str(r.rank), r.status, f"{r.outlets}{' single' if r.single_source else ''}",
                      str(r.violations), str(r.unsupported),
                      (r.headline or "") + (f"\n[red]{r.error}[/red]" if r.error else ""))
    out.print(table)
    if summary is not None:
        out.print(f"{summary.day}: {summary.calls} LLM calls, {summary.tokens} tokens, ${summary.cost_usd:.4f}; "
                  f"{plural(len(summary.failed_sources), 'failing source')}", highlight=False)
        if summary.llm_modes:
            out.print("  LLM mode: " + ", ".join(f"{m} ({n} calls)" for m, n in summary.llm_modes.items()), highlight=False)
        for f in summary.failed_sources:
            out.print(f"  ! {f['name']}: {f['error']} ({f['failures']} in a row{', flagged' if f['flagged'] else ''})", highlight=False)
        for note in summary.notes:
            out.print(f"  note: {note}", highlight=False)


@review_app.command("list")
def review_list(
    day: Optional[str] = typer.Option(None, "--day"),
    status: Optional[str] = typer.Option(None, "--status", help="pending, approved, rejected or needs_human."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List drafted stories in rank order."""
    from newsdesk.config import parse_day
    from storage import desk

    def body() -> None:
        if day:
            parse_day(day)
        db = _ready_db()
        with db.session() as s:
            rows = desk.list_stories(s, day=day, status=status)
            days = sorted({r.day for r in rows}, reverse=True)
            summaries = [desk.night_summary(s, d_, settings().flag_after) for d_ in days]
            undrafted = desk.undrafted_stories(s, day) if day and status is None else []
        if as_json:
            print(json.dumps({"stories": [desk.as_dict(r) for r in rows], "nights": [desk.as_dict(x) for x in summaries],
                              "not_drafted": [desk.as_dict(r) for r in undrafted]}, indent=2))
            return
        if not rows:
            out.print("no drafted stories" + (f" for {day}" if day else "") + (f" with status {status}" if status else ""))
        for d_, summary in zip(days, summaries):
            _print_rows([r for r in rows if r.day == d_], summary)
        _print_undrafted(undrafted)
    guarded(body)


def _print_undrafted(rows) -> None:
    """The night's stories past the drafting cap, so none is invisible."""
    if not rows:
        return
    out.print(f"not drafted ({len(rows)}, past the cap; `newsdesk review draft ID` drafts one):", highlight=False)
    for r in rows:
        out.print(f"  #{r.id} rank {r.rank}: {r.headline} ({'; '.join(r.reasons)})", highlight=False, soft_wrap=True)


@review_app.command("draft")
def review_draft(
    story_id: int = typer.Argument(..., metavar="ID"),
    editor: Optional[str] = typer.Option(None, "--as", help="Editor name."),
) -> None:
    """Draft a story the night left undrafted (past the cap); it joins the queue."""
    from flows import pipeline
    from storage.desk import InvalidAction, NotFound
    from storage.models import Story

    def body() -> dict[str, Any]:
        db = _ready_db()
        try:
            with db.session() as s:
                story = s.get(Story, story_id)
                if story is None or not story.active:
                    raise NotFound(f"no story with id {story_id}")
                if story.draft is not None:
                    raise InvalidAction(f"story #{story_id} is already drafted (`newsdesk review regenerate {story_id}` redrafts it)")
            return pipeline.regenerate_story(pipeline.Context(settings(), db), story_id, actor=_actor(editor))
        finally:
            db.dispose()

    stats = guarded(body)
    out.print(f"story #{story_id}: {'drafted' if stats['drafted'] else 'needs a human draft'}; "
              f"{stats['calls']} LLM calls, {stats['tokens']} tokens, ${stats['cost_usd']:.4f}", highlight=False)


@review_app.command("show")
def review_show(story_id: int = typer.Argument(..., metavar="ID"), as_json: bool = typer.Option(False, "--json")) -> None:
    """Show one story's draft, its flags and its sources."""
    from storage import desk

    def body() -> None:
        db = _ready_db()
        with db.session() as s:
            d = desk.get_story(s, story_id)
        if as_json:
            print(json.dumps(desk.as_dict(d), indent=2))
            return
        r = d.row
        out.print(f"[bold]#{r.id} {r.headline}[/bold]  ({r.status}, day {r.day}, rank {r.rank}, version {r.version})", highlight=False)
        out.print(f"tags: {', '.join(d.tags) or '-'}   model: {d.model or '-'}{f' ({d.llm_mode})' if d.llm_mode else ''}   "
                  f"prompt: {d.prompt_version}   ranked for: {'; '.join(r.reasons)}", highlight=False)
        out.print(f"coverage: {len(r.outlet_names)} {'outlet' if len(r.outlet_names) == 1 else 'outlets'} "
                  f"({', '.join(r.outlet_names)}); source types: {', '.join(r.source_types) or '-'}", highlight=False)
        if not r.active:
            out.print(f"[yellow]this story is {desk.OFF_DESK}; it is not in the queue or the digest[/yellow]", highlight=False)
        if r.single_source:
            out.print("[yellow]single-source story: only one outlet reports it[/yellow]", highlight=False)
        if r.error:
            out.print(f"[red]error: {r.error}[/red]", highlight=False)
        out.print("")
        for i, sent in enumerate(d.summary):
            cites = ",".join(sent.get("source_ids", []))
            flags = [u for u in d.unsupported if u.get("sentence") == i]
            out.print(f"{sent.get('text', '')} [dim][{cites}][/dim]" + "".join(f" [red]<unsupported: {u.get('claim')} — {u.get('reason')}>[/red]" for u in flags), highlight=False)
        out.print("")
        out.print(d.view or "[dim](no view)[/dim]", highlight=False)
        for u in d.unsupported:
            where = {-1: "view", -2: "headline", -3: "tags"}.get(u.get("sentence"))
            if where:
                out.print(f"[red]{where}: unsupported {u.get('claim')} — {u.get('reason')}[/red]", highlight=False)
        if d.override:
            out.print(f"[yellow]approved by {d.override.get('by')} over {len(d.override.get('flags') or [])} flag(s): "
                      f"{d.override.get('reason')}[/yellow]", highlight=False)
        if d.violations:
            out.print("\n[bold]style violations[/bold]")
            for v in d.violations:
                out.print(f"  - {v.get('rule')}: {v.get('message')}", highlight=False)
        out.print("\n[bold]sources[/bold]")
        for src in d.sources:
            weak = "  (joined on a weak match: check it belongs)" if src.weak else ""
            out.print(f"  [{src.id}] {src.outlet}: {src.title} <{src.url}>{weak}", highlight=False)
        if d.omitted_sources:
            out.print("[bold]not shown to the model[/bold]")
            for o in d.omitted_sources:
                out.print(f"  [{o.get('id')}] {o.get('outlet')}: {o.get('reason')}", highlight=False)
        if d.reject_reason:
            out.print(f"\nrejected: {d.reject_reason}", highlight=False)
    guarded(body)


@review_app.command("approve")
def review_approve(
    story_id: int = typer.Argument(..., metavar="ID"),
    editor: Optional[str] = typer.Option(None, "--as", help="Editor name."),
    override: Optional[str] = typer.Option(None, "--override", metavar="REASON",
                                           help="Approve despite unsupported claims, saying why (audited)."),
) -> None:
    """Approve a story for the digest (refused while claims are unsupported or the view is unwritten)."""
    from storage import desk

    def body() -> None:
        db = _ready_db()
        with db.session() as s:
            before = desk.get_story(s, story_id)
            if before.row.status == "approved":
                out.print(f"already approved #{before.row.id} by {before.editor or 'newsdesk'}: {before.row.headline}",
                          highlight=False)
                return
            row = desk.approve(s, story_id, _actor(editor), override=override)
        out.print(f"approved #{row.id}: {row.headline}" + (" (over its flags, reason recorded)" if override and row.unsupported else ""),
                  highlight=False)
    guarded(body)


@review_app.command("edit")
def review_edit(
    story_id: int = typer.Argument(..., metavar="ID"),
    view: Optional[str] = typer.Option(None, "--view", help="The new view (without the style's label, which the renderer prints)."),
    summary: Optional[str] = typer.Option(None, "--summary", help="The new summary: one sentence per line ending with its source numbers, e.g. 'X did Y. [1]\\nThen Z. [2]'."),
    headline: Optional[str] = typer.Option(None, "--headline", help="The new headline."),
    tags: Optional[str] = typer.Option(None, "--tags", help="Comma-separated tags."),
    section: Optional[str] = typer.Option(None, "--section", help="The story's section heading (AI News Digest)."),
    editor: Optional[str] = typer.Option(None, "--as", help="Editor name."),
) -> None:
    """Edit a draft: in $EDITOR (its Markdown), or with --view/--summary/--headline/--tags. Re-checked like the desk."""
    from review.editing import draft_document, parse_document, save_edit, summary_to_text
    from storage import desk
    from summarizer.lint import strip_view_opener, style_rules

    def body() -> None:
        db = _ready_db()
        try:
            with db.session() as s:
                detail = desk.get_story(s, story_id)
            opened = detail.row.version
            fields = {"headline": detail.row.headline, "summary": summary_to_text(detail.summary, detail.sources),
                      "view": strip_view_opener(detail.view), "tags": ", ".join(detail.tags), "section": detail.section or ""}
            if any(x is not None for x in (view, summary, headline, tags, section)):
                given = {"view": view, "summary": summary, "headline": headline, "tags": tags, "section": section}
                fields |= {k: v for k, v in given.items() if v is not None}
                if summary is not None:
                    fields["summary"] = summary.replace("\\n", "\n")  # one sentence per line, typed on one line
                saved_copy = None
            else:
                text = _edit_in_editor(draft_document(detail, style_rules(detail.style).view_opener), story_id)
                fields = parse_document(text)
                saved_copy = _keep_copy(text, story_id)
            try:
                with db.session() as s:
                    row, changes = save_edit(s, story_id, _actor(editor), expected_version=opened, **fields)
            except desk.Conflict as exc:
                where = f"; your text is kept in {saved_copy}" if saved_copy else ""
                raise desk.Conflict(f"{exc}{where}", exc.current) from None
            if saved_copy:
                saved_copy.unlink(missing_ok=True)
            if not changes:
                out.print(f"story #{story_id}: no change", highlight=False)
                return
            with db.session() as s:
                d = desk.get_story(s, story_id)
            out.print(f"saved #{row.id} version {row.version} ({row.status}): changed {', '.join(changes)}", highlight=False)
            for v in d.violations:
                out.print(f"  style: {v.get('rule')}: {v.get('message')}", highlight=False, soft_wrap=True)
            for u in d.unsupported:
                out.print(f"  unsupported: {u.get('claim')} — {u.get('reason')}", highlight=False, soft_wrap=True)
        finally:
            db.dispose()
    guarded(body)


def _edit_in_editor(document: str, story_id: int) -> str:
    """Open $VISUAL/$EDITOR on the document and return what the editor saved."""
    import shlex
    import subprocess
    import tempfile

    command = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not command:
        raise ConfigError("no editor: set $EDITOR (or $VISUAL), or pass --view/--summary/--headline/--tags")
    with tempfile.TemporaryDirectory(prefix="newsdesk-edit-") as tmp:
        path = Path(tmp) / f"story-{story_id}.md"
        path.write_text(document, encoding="utf-8")
        try:
            code = subprocess.call([*shlex.split(command), str(path)])
        except OSError as exc:
            raise ConfigError(f"cannot run the editor {command!r}: {exc.strerror or exc}") from None
        if code != 0:
            raise ConfigError(f"the editor exited with status {code}; nothing was saved")
        return path.read_text(encoding="utf-8")


def _keep_copy(text: str, story_id: int) -> Path:
    """A copy of the edited file, so a refused save (a conflict) loses nothing; removed after a save."""
    import tempfile

    fd, name = tempfile.mkstemp(prefix=f"newsdesk-story-{story_id}-", suffix=".md")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return Path(name)


@review_app.command("reject")
def review_reject(
    story_id: int = typer.Argument(..., metavar="ID"),
    reason: str = typer.Option(..., "--reason", help="Why (shown in the story's history)."),
    editor: Optional[str] = typer.Option(None, "--as", help="Editor name."),
) -> None:
    """Reject a story, with a reason."""
    from storage import desk

    def body() -> None:
        db = _ready_db()
        with db.session() as s:
            row = desk.reject(s, story_id, _actor(editor), reason)
        out.print(f"rejected #{row.id}: {row.headline}", highlight=False)
    guarded(body)


@review_app.command("split")
def review_split(
    story_id: int = typer.Argument(..., metavar="ID"),
    item: int = typer.Option(..., "--item", help="The source's item id (`review show ID` lists them)."),
    editor: Optional[str] = typer.Option(None, "--as", help="Editor name."),
) -> None:
    """Split one source off a story into a story of its own (the next cluster run keeps it apart)."""
    from storage import desk

    def body() -> None:
        db = _ready_db()
        with db.session() as s:
            result = desk.split_off(s, story_id, _actor(editor), item)
        out.print(f"split item {', '.join(map(str, result.item_ids))} off #{result.kept.id}: "
                  f"new story #{result.new.id}: {result.new.headline}", highlight=False)
    guarded(body)


@review_app.command("merge")
def review_merge(
    story_id: int = typer.Argument(..., metavar="ID"),
    into: int = typer.Option(..., "--into", help="The story of the same day that takes its sources in."),
    editor: Optional[str] = typer.Option(None, "--as", help="Editor name."),
) -> None:
    """Merge a story into another story of its day (the next cluster run keeps them together).

    Merging a story that was split off back into a story undoes the split."""
    from storage import desk

    def body() -> None:
        db = _ready_db()
        with db.session() as s:
            result = desk.merge_into(s, story_id, into, _actor(editor))
        undone = f" (split of item {', '.join(map(str, result.unsplit))} undone)" if result.unsplit else ""
        out.print(f"merged #{result.merged_id} (item {', '.join(map(str, result.item_ids))}) into "
                  f"#{result.into.id}: {result.into.headline}{undone}", highlight=False)
    guarded(body)


@review_app.command("regenerate")
def review_regenerate(
    story_id: int = typer.Argument(..., metavar="ID"),
    instruction: Optional[str] = typer.Option(None, "--instruction", help="A note to the model, e.g. 'lead with the price'."),
    editor: Optional[str] = typer.Option(None, "--as", help="Editor name."),
) -> None:
    """Redraft one story now (the earlier version stays in its history)."""
    from flows import pipeline

    def body() -> dict[str, Any]:
        from storage.limits import check_text

        check_text("note", instruction)  # the same limit as the desk's form
        if instruction and not settings().llm.configured:
            raise ConfigError("no LLM configured, so --instruction cannot be followed: set OPENAI_BASE_URL and/or "
                              "OPENAI_API_KEY, or redraft without it (extractive) or edit with `newsdesk review edit`")
        db = _ready_db()
        try:
            return pipeline.regenerate_story(pipeline.Context(settings(), db), story_id,
                                             instruction=instruction, actor=_actor(editor))
        finally:
            db.dispose()

    stats = guarded(body)
    out.print(f"story #{story_id}: {'redrafted' if stats['drafted'] else 'needs a human draft'}; "
              f"{stats['calls']} LLM calls, {stats['tokens']} tokens, ${stats['cost_usd']:.4f}", highlight=False)


# ---------------------------------------------------------------- llm


@llm_app.command("check")
def llm_check(as_json: bool = typer.Option(False, "--json")) -> None:
    """Probe the configured endpoint (structured-output modes, usage, context, speed, parallelism) and remember it."""
    import asyncio

    from flows.draft_stage import open_llm
    from storage.writes import put_setting, record_llm_calls
    from summarizer.capabilities import format_report, probe, settings_key

    def body() -> None:
        s = settings()
        if not s.llm.configured:
            raise ConfigError("no LLM configured: set OPENAI_BASE_URL and/or OPENAI_API_KEY (and NEWSDESK_MODEL)")

        async def run():
            llm = open_llm(s)
            try:
                return await probe(llm, all_modes=True, records=llm.probe_records), llm.probe_records
            finally:
                await llm.aclose()

        caps, records = asyncio.run(run())
        db = _db()
        try:
            db.check_ready()
        except Exception:
            saved = False
        else:
            with db.session() as sess:
                put_setting(sess, settings_key(caps.base_url, caps.model), caps.to_dict())
                record_llm_calls(sess, None, None, [r.model_dump() for r in records])
            saved = True
        finally:
            db.dispose()
        if as_json:
            print(json.dumps(caps.to_dict() | {"saved": saved}, indent=2))
            return
        out.print(f"[bold]{caps.model}[/bold] at {caps.base_url}", highlight=False)
        table = Table(show_header=False)
        for name, value in format_report(caps):
            table.add_row(name, value)
        out.print(table)
        out.print("remembered for drafting" if saved else "not remembered: run `newsdesk init` first", highlight=False)
        if caps.mode is None:
            raise ConfigError("the endpoint gave no usable answer in any mode; drafting would leave every story to editors")
    guarded(body)


# ---------------------------------------------------------------- publish


@app.command()
def publish(
    day: str = typer.Option(..., "--day", help="Digest day YYYY-MM-DD."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Output folder (default NEWSDESK_PUBLISH_DIR)."),
    style: Optional[str] = typer.Option(None, "--style", help="This publication only: awesome-ai-daily or ai-news-digest "
                                        "(default: the day's style, see `newsdesk digest show`; `digest set` changes it)."),
    note: Optional[str] = typer.Option(None, "--note", help="Correction note when republishing."),
    editor: Optional[str] = typer.Option(None, "--as", help="Editor name; a correction needs an admin's account name."),
    email: bool = typer.Option(False, "--email", help="Then email it to every active subscriber (once each, whatever happens)."),
    post: Optional[list[str]] = typer.Option(None, "--post", help="Then post it: discord, telegram, mastodon, bluesky or all (repeatable)."),
    notify: bool = typer.Option(False, "--notify", help="A correction is emailed/posted to those who had the day only with this."),
) -> None:
    """Publish a day's approved stories: Markdown, HTML archive, RSS/Atom and JSON Feed."""
    from newsdesk.config import STYLES, parse_day
    from newsdesk.cli_delivery import check_send_options, send_after_publish

    def body() -> None:
        parse_day(day)
        if style is not None and style not in STYLES:
            raise ConfigError(f"unknown style {style!r}: use one of {', '.join(STYLES)}")
        from review.publishing import publish_day

        s = settings()
        check_send_options(s, email, post or [])
        db = _ready_db()
        target = out_dir or s.publish_dir
        _check_may_correct(db, day, _actor(editor))
        result = publish_day(db, day, _actor(editor), target, style=style, note=note, site_url=s.site_url, webhook_url=s.webhook_url)
        db.dispose()
        out.print(f"published {day} (revision {result.revision}) as {result.style} to {target}", highlight=False)
        if style is not None and style != result.day_style:
            out.print(f"  note: --style {style} was for this publication only; the day's style stays {result.day_style} "
                      f"(`newsdesk digest set --day {day} --style {style}` changes it)", highlight=False, soft_wrap=True)
        for f in result.files:
            out.print(f"  {f}", highlight=False)
        if (email or post) and not send_after_publish(s, day, email=email, channels=post or [], notify=notify,
                                                      actor=_actor(editor), print_line=lambda x: out.print(x, highlight=False, soft_wrap=True)):
            raise typer.Exit(3)
    guarded(body)


def _check_may_correct(db: Any, day: str, actor: str) -> None:
    """Publishing a published day again is a correction, which only an admin may publish (as in the desk)."""
    from review.users import require_admin_account
    from storage import desk

    with db.session() as s:
        published = desk.digest_data(s, day).status == "published"
    if published:
        try:
            require_admin_account(db, actor, f"{day} is already published, and publishing a correction")
        except ValueError:
            db.dispose()
            raise


@app.command()
def send(
    day: str = typer.Option(..., "--day", help="A published day YYYY-MM-DD (its latest revision)."),
    email: bool = typer.Option(False, "--email", help="Email every active subscriber who has not had it."),
    post: Optional[list[str]] = typer.Option(None, "--post", help="discord, telegram, mastodon, bluesky or all (repeatable)."),
    notify: bool = typer.Option(False, "--notify", help="Send a correction to those who already had the day."),
    editor: Optional[str] = typer.Option(None, "--as", help="Who sends (audit log)."),
) -> None:
    """Send (or finish sending) a published day without republishing it; safe to run again."""
    from newsdesk.config import parse_day
    from newsdesk.cli_delivery import check_send_options, send_after_publish

    def body() -> bool:
        parse_day(day)
        if not email and not post:
            raise ConfigError("nothing to send: add --email and/or --post CHANNEL")
        s = settings()
        check_send_options(s, email, post or [])
        return send_after_publish(s, day, email=email, channels=post or [], notify=notify, actor=_actor(editor),
                                  print_line=lambda x: out.print(x, highlight=False, soft_wrap=True))
    if not guarded(body):
        raise typer.Exit(3)


# ---------------------------------------------------------------- sources


@sources_app.command("list")
def sources_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every source with its health (last success, last error, failing streak)."""
    from sqlalchemy import select

    from newsdesk.sources import load_sources
    from storage.db import DatabaseNotReady, sqlite_path
    from storage.models import Source

    def body() -> None:
        s = settings()
        specs = load_sources(s.sources_file)
        health: dict[str, Any] = {}
        db = _db()
        try:
            db.check_ready()
            with db.session() as sess:
                health = {src.name: src for src in sess.scalars(select(Source))}
        except DatabaseNotReady as exc:
            path = sqlite_path(db.url)
            if path is None or path.exists():
                raise  # unreachable, not a database, or behind the code: one line, like every command
            err.print(f"note: no database yet, so no health to show ({exc})", markup=False, highlight=False, soft_wrap=True)
        finally:
            db.dispose()
        rows = []
        for spec in specs:
            h = health.get(spec.name)
            rows.append({
                "name": spec.name, "type": spec.type, "url": spec.url or spec.handle, "tags": list(spec.tags),
                "last_success": h.last_success_at.isoformat() if h and h.last_success_at else None,
                "last_error": h.last_error if h else None,
                "failing_streak": h.consecutive_failures if h else 0,
                "flagged": bool(h and h.consecutive_failures >= s.flag_after),
                "warnings": list(h.warnings or []) if h else [],
            })
        if as_json:
            print(json.dumps(rows, indent=2))
            return
        table = Table()
        for col in ("name", "type", "url/handle", "last success", "failing", "last error / warnings"):
            table.add_column(col, overflow="fold")
        for r in rows:
            streak = f"{r['failing_streak']}" + (" FLAGGED" if r["flagged"] else "")
            problems = [r["last_error"]] if r["last_error"] else []
            problems += [f"warning: {w}" for w in r["warnings"]]
            table.add_row(Text(r["name"]), r["type"], Text(r["url"] or ""), (r["last_success"] or "never")[:19], streak,
                          Text("\n".join(problems)))
        out.print(table)
    guarded(body)


@sources_app.command("import-opml")
def sources_import_opml(file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True)) -> None:
    """Add the feeds of an OPML file to the sources file (categories become tags)."""
    from extractors.opml import OPMLError, read_opml
    from newsdesk.sources import add_sources, load_sources

    def body() -> None:
        s = settings()
        current = load_sources(s.sources_file) if s.sources_file.exists() else []
        names = {x.name for x in current}
        urls = {x.url for x in current if x.url}
        try:
            found = read_opml(file.read_bytes())  # all or nothing: a bad file imports no feed
        except OPMLError as exc:
            raise OPMLError(f"{file}: {exc}; nothing imported") from None
        added = [spec for spec in found if spec.name not in names and spec.url not in urls]
        if added:
            add_sources(s.sources_file, added)  # keeps the file's comments; one atomic rename
        out.print(f"added {len(added)} sources to {s.sources_file}", highlight=False)
    guarded(body)


@sources_app.command("export-opml")
def sources_export_opml(out_file: Optional[Path] = typer.Option(None, "--out", help="Write here instead of stdout.")) -> None:
    """Write the feed sources as OPML (tags become categories)."""
    from extractors.opml import write_opml
    from newsdesk.sources import load_sources

    def body() -> None:
        data = write_opml(load_sources(settings().sources_file))
        if out_file:
            out_file.write_bytes(data)
        else:
            sys.stdout.write(data.decode("utf-8"))
    guarded(body)


# ---------------------------------------------------------------- web app


@app.command()
def serve(host: str = typer.Option("127.0.0.1", "--host"), port: int = typer.Option(8000, "--port")) -> None:
    """Start the editors' web app."""
    def body() -> None:
        from newsdesk.serving import serve_app
        from newsdesk.webapp import build_app

        application = build_app(settings())
        out.print(f"newsdesk desk on http://{host}:{port}/ (log in with a user from `newsdesk users add`)", highlight=False)
        serve_app(application, host=host, port=port)
    guarded(body)


def _mount_users() -> None:
    try:
        from review.cli import users_app
    except ImportError:  # the web app is optional at import time
        return
    app.add_typer(users_app, name="users")


_mount_users()


def _mount_subscribers() -> None:
    from newsdesk.cli_delivery import subscribers_app

    app.add_typer(subscribers_app, name="subscribers")


_mount_subscribers()


def _mount_digest() -> None:
    from newsdesk.cli_digest import digest_app

    app.add_typer(digest_app, name="digest")


_mount_digest()
def _mount_reach() -> None:
    from newsdesk import cli_add, cli_search

    cli_search.register(app)
    cli_add.register(app)


_mount_reach()


@app.command()
def demo(
    port: int = typer.Option(8765, "--port", help="Port of the local sample-day server (fixed, so reruns see the same URLs)."),
    style: Optional[str] = typer.Option(None, "--style"),
) -> None:
    """Run a whole night offline over a bundled sample day served on 127.0.0.1."""
    from newsdesk.demo_run import run_demo

    guarded(lambda: run_demo(settings(), port=port, style=style, console=out, run=run_flow, show=print_run))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
