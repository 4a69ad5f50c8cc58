"""The editors' desk: `create_app(settings)` builds the FastAPI app that `newsdesk serve` runs."""
from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response
from urllib.parse import quote

from review.bodylimit import MAX_BODY_BYTES, BodyLimit
from review.clientaddr import parse_proxies
from review.ratelimit import HashGate, LoginLimiter
from review.sessions import SessionCodec, new_session
from review.settings import ReviewSettings
from review.web import SAFE_METHODS, CsrfFailed, DeskApp, Forbidden, LoginRequired, make_env, render
from storage import desk
from storage.db import Database

STATIC = Path(__file__).parent / "static"

# No inline script anywhere: the desk works with plain forms.
CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'"


def create_app(settings: ReviewSettings) -> FastAPI:
    db = Database(settings.database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        db.dispose()

    app = FastAPI(title="newsdesk", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.desk = DeskApp(
        settings=settings,
        db=db,
        sessions=SessionCodec(settings.secret_key, settings.session_max_age_seconds, settings.cookie_secure),
        limiter=LoginLimiter(settings.login_max_failures, settings.login_window_seconds,
                             max_per_address=settings.login_max_per_address, max_global=settings.login_max_global,
                             global_window_seconds=settings.login_global_window_seconds),
        env=make_env(),
        hash_gate=HashGate(settings.login_hash_slots, settings.login_max_waiting),
        proxies=parse_proxies(settings.trusted_proxies),
    )

    @app.middleware("http")
    async def sessions_and_headers(request: Request, call_next) -> Response:
        codec: SessionCodec = app.state.desk.sessions
        session = codec.load(request)
        request.state.session = session or new_session()
        request.state.session_dirty = session is None
        request.state.session_clear = False
        response = await call_next(request)
        if request.state.session_clear:
            codec.clear(response)
        elif request.state.session_dirty:
            codec.save(request, response, request.state.session)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    _exception_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)  # outermost of ours: before sessions or forms
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    from review.routes import auth, delivery, digest, queue, story, users
    from review.routes import add_link, search

    for module in (auth, queue, story, digest, users, delivery, search, add_link):
        app.include_router(module.router)
    return app


def _error(request: Request, status: int, heading: str, message: str) -> Response:
    return render(request, "error.html", status_code=status, heading=heading, message=message)


def _exception_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _exc: LoginRequired) -> Response:
        if request.method in SAFE_METHODS:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)
        return _error(request, 401, "Please sign in", "Your session has ended. Sign in again; nothing was changed.")

    @app.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, _exc: CsrfFailed) -> Response:
        return _error(request, 403, "Request refused", "This form was stale or did not come from the desk (missing security token). Reload the page and try again.")

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return _error(request, 403, "Not allowed", exc.message)

    @app.exception_handler(desk.NotFound)
    async def not_found(request: Request, exc: desk.NotFound) -> Response:
        return _error(request, 404, "Not found", str(exc))

    @app.exception_handler(desk.DeskError)
    async def refused(request: Request, exc: desk.DeskError) -> Response:
        return _error(request, 400, "Refused", str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return _error(request, 404, "Not found", "There is no such page on the desk.")
        return _error(request, exc.status_code, "Error", str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def bad_form(request: Request, exc: RequestValidationError) -> Response:
        fields = ", ".join(str(e.get("loc", ["?"])[-1]) for e in exc.errors())
        return _error(request, 400, "Incomplete form", f"The form was missing or had invalid fields: {fields}.")
