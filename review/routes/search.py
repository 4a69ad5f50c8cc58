"""Search: find any story, past or present, by a word in its title, draft or sources."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from starlette.responses import Response

from review.users import Account
from review.web import desk_of, render, require_user
from storage import search as fulltext
from storage.models import Source

router = APIRouter()


@router.get("/search")
def search_page(request: Request, q: str = "", day_from: str = "", day_to: str = "", status: str = "",
                source: str = "", user: Account = Depends(require_user)) -> Response:
    app = desk_of(request)
    hits, error = None, None
    with app.db.session() as s:
        sources = list(s.scalars(select(Source.name).order_by(Source.name)))
        if q.strip():
            try:
                hits = fulltext.search(s, q, day_from=day_from or None, day_to=day_to or None,
                                       status=status or None, source=source or None)
            except fulltext.SearchError as exc:
                error = str(exc)
    return render(request, "search.html", status_code=400 if error else 200, q=q, day_from=day_from, day_to=day_to,
                  status=status, source=source, statuses=fulltext.STATUSES, sources=sources, hits=hits,
                  error=error, title=f"Search · {q}" if q else "Search")
