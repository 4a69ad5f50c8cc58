"""Newsletter and channels on the desk.

Public (no login): the subscribe form with double opt-in, and the one-click
unsubscribe of RFC 8058 (a POST to the link in List-Unsubscribe, no cookie,
no form token; a GET only shows a button, so link scanners unsubscribe no one).

Admins: a page per day with the email preview, a test send to oneself, and
Send (email and/or channels) for the latest published revision.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from review.delivery import optin
from review.delivery.newsletter import BRANDS, Recipient, build_edition
from review.delivery.send import check_channels, check_email, send_revision_sync, send_test
from review.delivery.settings import DeliverySettings
from review.delivery.smtp import SmtpMailer, SmtpUnavailable
from review.publishing import finish_html
from review.ratelimit import LoginLimiter
from review.rendering import render_html, render_markdown
from review.users import Account
from review.web import check_day, client_address, desk_of, render, require_admin, require_user
from storage import deliveries, desk, subscribers
from storage.deliveries import PublicationRef

log = logging.getLogger(__name__)
router = APIRouter()
PREVIEW_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; sandbox"
NOTICES = {
    "sending": "Sending has started. This page shows where it stands; reload it to follow.",
    "test": "Test sent. Check that inbox (and its spam folder).",
}


def _delivery(request: Request) -> DeliverySettings:
    return getattr(desk_of(request).settings, "delivery", None) or DeliverySettings()


def _form_open(request: Request) -> bool:
    s = _delivery(request).email
    return s.subscribe_form and s.configured


def _list_name(request: Request) -> str:
    return BRANDS.get(desk_of(request).settings.default_style, "the AI news digest")


def _limiter(request: Request, name: str, count: int, window: float) -> LoginLimiter:
    """In-memory counters on the app (one process serves the desk)."""
    state = request.app.state
    if not hasattr(state, "delivery_limiters"):
        state.delivery_limiters = {}
    return state.delivery_limiters.setdefault(name, LoginLimiter(count, window))


# ------------------------------------------------------------------ public: subscribe


@router.get("/subscribe")
def subscribe_page(request: Request) -> Response:
    if not _form_open(request):
        return render(request, "error.html", status_code=404, heading="Not found", message="There is no such page on the desk.")
    return render(request, "subscribe.html", title="Subscribe", list_name=_list_name(request), state="form")


def _send_confirmation(settings: DeliverySettings, address: str, token: str, list_name: str) -> None:
    async def go() -> None:
        assert settings.email.smtp is not None
        async with SmtpMailer(settings.email.smtp, max_retries=1, backoff_seconds=settings.email.backoff_seconds) as m:
            outcome = await m.send(optin.confirmation_message(settings.email, address, token, list_name))
        if outcome.status != "sent":
            log.warning("confirmation mail to %s %s: %s", address, outcome.status, outcome.error)

    try:
        asyncio.run(go())
    except SmtpUnavailable as exc:
        log.warning("confirmation mail to %s not sent: %s", address, exc)


@router.post("/subscribe")
async def subscribe(request: Request, background: BackgroundTasks, email: str = Form(""), website: str = Form("")) -> Response:
    """Always the same answer, whether the address is new, active or unknown: no one learns who reads."""
    if not _form_open(request):
        return render(request, "error.html", status_code=404, heading="Not found", message="There is no such page on the desk.")
    list_name = _list_name(request)
    try:
        address = subscribers.normalize_email(email)
    except subscribers.SubscriberError:
        return render(request, "subscribe.html", status_code=400, title="Subscribe", list_name=list_name, state="form",
                      email=email[:320], error="That does not look like an email address.")
    by_client = _limiter(request, "subscribe-client", 10, 3600)
    by_address = _limiter(request, "subscribe-address", 1, 600)
    client = client_address(request)
    if by_client.blocked("subscribe", client):
        return render(request, "subscribe.html", status_code=429, title="Subscribe", list_name=list_name, state="form",
                      error="Too many requests from your network. Try again in an hour.")
    by_client.failed("subscribe", client)
    if not website and not by_address.blocked(address, "-"):  # a filled hidden field is a bot: say the same, send nothing
        by_address.failed(address, "-")
        settings = _delivery(request)
        token = optin.make_token(desk_of(request).settings.secret_key, address)
        background.add_task(_send_confirmation, settings, address, token, list_name)
    return render(request, "subscribe.html", title="Check your inbox", list_name=list_name, state="sent", email=address)


def _read_link(request: Request, token: str) -> tuple[str | None, str | None]:
    try:
        return optin.read_token(desk_of(request).settings.secret_key, token, _delivery(request).email.confirm_max_age), None
    except (optin.LinkExpired, optin.LinkInvalid) as exc:
        return None, str(exc)


@router.get("/subscribe/confirm")
def confirm_page(request: Request, token: str = "") -> Response:
    address, problem = _read_link(request, token)
    status = 200 if address else 400
    return render(request, "subscribe.html", status_code=status, title="Confirm", list_name=_list_name(request),
                  state="confirm" if address else "bad-link", email=address, token=token, error=problem)


@router.post("/subscribe/confirm")
def confirm(request: Request, token: str = Form("")) -> Response:
    address, problem = _read_link(request, token)
    if address is None:
        return render(request, "subscribe.html", status_code=400, title="Confirm", list_name=_list_name(request),
                      state="bad-link", error=problem)
    with desk_of(request).db.session() as s:
        row = subscribers.activate(s, address, "subscriber")
        unsubscribe_token = row.token
    return render(request, "subscribe.html", title="Subscribed", list_name=_list_name(request), state="done",
                  email=address, unsubscribe_token=unsubscribe_token)


# ------------------------------------------------------------------ public: unsubscribe


@router.get("/unsubscribe/{token}")
def unsubscribe_page(token: str, request: Request) -> Response:
    """A button, not an action: mail scanners follow links, and must not unsubscribe anyone."""
    with desk_of(request).db.session() as s:
        row = subscribers.by_token(s, token)
        state = None if row is None else ("done" if row.status == "unsubscribed" else "ask")
        address = row.email if row else None
    if state is None:
        return render(request, "unsubscribe.html", status_code=404, title="Unsubscribe", state="unknown")
    return render(request, "unsubscribe.html", title="Unsubscribe", state=state, email=address, token=token,
                  list_name=_list_name(request))


@router.post("/unsubscribe/{token}")
def unsubscribe(token: str, request: Request) -> Response:
    """RFC 8058 one-click (body List-Unsubscribe=One-Click) and the page's button: effective at once, kept."""
    with desk_of(request).db.session() as s:
        row = subscribers.by_token(s, token)
        if row is not None:
            subscribers.unsubscribe(s, row, "subscriber", "one-click")
            address = row.email
    if row is None:
        return render(request, "unsubscribe.html", status_code=404, title="Unsubscribe", state="unknown")
    return render(request, "unsubscribe.html", title="Unsubscribed", state="done", email=address, list_name=_list_name(request))


# ------------------------------------------------------------------ admins: preview, test, send


def _draft_ref(request: Request, day: str) -> PublicationRef | None:
    """The digest as it would be published now, for a preview before publishing."""
    with desk_of(request).db.session() as s:
        data = desk.digest_data(s, day)
    if not data.entries:
        return None
    return PublicationRef(id=0, day=day, revision=0, style=data.style, markdown=render_markdown(data, data.style),
                          html=finish_html(render_html(data, data.style), None), note=None, published_at=None,  # type: ignore[arg-type]
                          title=data.title)


def _publication_or_draft(request: Request, day: str) -> tuple[PublicationRef | None, bool]:
    with desk_of(request).db.session() as s:
        pub = deliveries.publication(s, day)
    if pub is not None:
        return pub, True
    return _draft_ref(request, day), False


def _page(request: Request, day: str, status_code: int = 200, **extra: Any) -> Response:
    settings = _delivery(request)
    pub, published = _publication_or_draft(request, day)
    with desk_of(request).db.session() as s:
        readers = subscribers.counts(s)
        summary = deliveries.summary(s, pub.id) if published and pub else {}
        failed = [{"channel": d.channel, "target": d.target, "status": d.status, "error": d.error}
                  for d in deliveries.failures(s, pub.id)] if published and pub else []
        if failed:
            emails = {str(r.id): r.email for r in subscribers.list_subscribers(s)}
            for f in failed:
                f["who"] = emails.get(f["target"], f["target"]) if f["channel"] == "email" else f["channel"]
    return render(
        request, "delivery.html", status_code=status_code, title=f"Newsletter · {day}", day=day, nav_day=day,
        pub=pub, published=published, readers=readers, summary=summary, failed=failed,
        email_missing=settings.email.missing(), channels=settings.channels.configured(), site_url=settings.site_url,
        notice=extra.pop("notice", None) or NOTICES.get(request.query_params.get("ok") or ""), **extra,
    )


@router.get("/digest/{day}/email")
def delivery_page(day: str, request: Request, user: Account = Depends(require_user)) -> Response:
    require_admin(user)
    return _page(request, check_day(day))


@router.get("/digest/{day}/email/preview")
def email_preview(day: str, request: Request, user: Account = Depends(require_user)) -> Response:
    """The email exactly as a reader gets it (latest revision, or the draft before publishing), sandboxed."""
    require_admin(user)
    check_day(day)
    pub, _ = _publication_or_draft(request, day)
    settings = _delivery(request)
    if pub is None:
        return HTMLResponse("<!doctype html><p style='font-family:system-ui;color:#555;padding:1rem'>No approved stories yet.</p>",
                            headers={"Content-Security-Policy": PREVIEW_CSP})
    try:
        edition = build_edition(pub, settings)
    except ValueError as exc:
        return HTMLResponse(f"<!doctype html><p style='font-family:system-ui;color:#a00;padding:1rem'>{exc}</p>",
                            status_code=409, headers={"Content-Security-Policy": PREVIEW_CSP})
    msg = edition.message(Recipient("preview@example.invalid", "preview"), test=True)
    return HTMLResponse(msg.get_body(("html",)).get_content(), headers={"Content-Security-Policy": PREVIEW_CSP})


@router.post("/digest/{day}/email/test")
async def email_test(day: str, request: Request, to: str = Form(...), user: Account = Depends(require_user)) -> Response:
    require_admin(user)
    check_day(day)
    pub, _ = await run_in_threadpool(_publication_or_draft, request, day)
    if pub is None:
        return await run_in_threadpool(_page, request, day, 400, error="No approved stories yet: nothing to send.")
    try:
        address = await send_test(_delivery(request), pub, to)
    except (ValueError, SmtpUnavailable, subscribers.SubscriberError) as exc:
        return await run_in_threadpool(_page, request, day, 400, error=f"Test not sent: {exc}")
    with desk_of(request).db.session() as s:
        desk.audit(s, user.name, "digest.test_sent", "digest", day, None, {"to": address, "revision": pub.revision})
    return RedirectResponse(f"/digest/{day}/email?ok=test", status_code=303)


def start_send(request: Request, background: BackgroundTasks, day: str, actor: str, *, email: bool, channels: list[str],
               notify: bool) -> str | None:
    """Check, then send after the response (the rows make a double click harmless); returns an error line."""
    settings = _delivery(request)
    try:
        if email:
            check_email(settings)
        names = check_channels(settings, channels)
    except ValueError as exc:
        return str(exc)
    if not email and not names:
        return "Choose the email and/or at least one channel."
    db = desk_of(request).db

    def run() -> None:
        try:
            report = send_revision_sync(db, settings, day, email=email, channels=names, notify=notify, actor=actor)
            log.info("sent %s", "; ".join(report.lines()))
        except Exception:  # the page shows the rows; the log gets the rest
            log.exception("sending %s failed", day)

    background.add_task(run)
    return None


@router.post("/digest/{day}/send")
async def send(day: str, request: Request, background: BackgroundTasks, email: str = Form(""), notify: str = Form(""),
               user: Account = Depends(require_user)) -> Response:
    require_admin(user)
    check_day(day)
    form = await request.form()
    channels = [str(c) for c in form.getlist("channel")]
    with desk_of(request).db.session() as s:
        published = deliveries.publication(s, day) is not None
    if not published:
        return await run_in_threadpool(_page, request, day, 400, error="Publish the day first: only a published revision is sent.")
    problem = start_send(request, background, day, user.name, email=bool(email), channels=channels, notify=bool(notify))
    if problem:
        return await run_in_threadpool(_page, request, day, 400, error=problem)
    return RedirectResponse(f"/digest/{day}/email?ok=sending", status_code=303)


def delivery_options(request: Request) -> dict[str, Any]:
    """What the digest page's Publish form may offer an admin: email, and the configured channels."""
    settings = _delivery(request)
    return {"email": settings.email.configured, "channels": settings.channels.configured() if settings.site_url else []}
