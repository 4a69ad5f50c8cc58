"""The newsletter email of a published revision: the day page's own HTML, CSS inlined, plus plain text.

The HTML is the page the archive published (the house-style render), taken
apart with lxml: the archive's "Back to list" link goes, relative links become
absolute, HTML5 sections become divs (some mail clients drop unknown tags),
then it is wrapped in a table layout with an email stylesheet that
`css_inline` writes into every element. Only the dark-mode and phone
@media rules stay in <style>. The plain-text part comes from the published
Markdown. One `Edition` is built per revision; each reader's message only
fills in their unsubscribe link.
"""
from __future__ import annotations

import hashlib
import html as html_lib
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, parseaddr
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

import css_inline
import lxml.html
from jinja2 import Environment, FileSystemLoader, select_autoescape

from review.archive import _heading, _summary
from review.delivery.settings import DeliverySettings
from storage.deliveries import PublicationRef
from summarizer.render import long_day

TEMPLATES = Path(__file__).parent / "templates"
UNSUBSCRIBE_SLOT = "https://newsdesk.invalid/unsubscribe/__UNSUBSCRIBE_TOKEN__"
SECTIONS = {"header", "main", "article", "section", "footer", "nav", "aside"}
BRANDS = {"awesome-ai-daily": "Awesome AI Daily", "ai-news-digest": "AI News Digest"}


@dataclass(frozen=True)
class Recipient:
    email: str
    token: str  # the reader's unsubscribe token
    id: int | None = None  # subscriber id; None for a test send


@dataclass(frozen=True)
class Edition:
    """One revision made ready to mail; `message(reader)` fills in the reader's parts."""

    day: str
    revision: int
    subject: str
    html: str  # CSS inlined, with UNSUBSCRIBE_SLOT where each reader's link goes
    text: str  # with UNSUBSCRIBE_SLOT too
    from_addr: str
    reply_to: str | None
    desk_url: str
    unsubscribe_mailto: str
    list_id: str

    def unsubscribe_url(self, token: str) -> str:
        return f"{self.desk_url}/unsubscribe/{token}"

    def message_id(self, reader: Recipient, test: bool = False) -> str:
        """Deterministic per (revision, reader): a retried send carries the same id, so clients can tell."""
        domain = _domain(self.from_addr)
        digest = hashlib.sha256(f"{self.day}|{self.revision}|{reader.email}|{test}".encode()).hexdigest()[:16]
        return f"<newsdesk.{self.day}.r{self.revision}.{digest}@{domain}>"

    def message(self, reader: Recipient, *, test: bool = False, now: datetime | None = None) -> EmailMessage:
        url = self.unsubscribe_url(reader.token)
        msg = EmailMessage()
        msg["Subject"] = ("[Test] " if test else "") + self.subject
        msg["From"] = self.from_addr
        msg["To"] = reader.email
        if self.reply_to:
            msg["Reply-To"] = self.reply_to
        msg["Date"] = format_datetime(now or datetime.now(timezone.utc))
        msg["Message-ID"] = self.message_id(reader, test)
        msg["List-Id"] = self.list_id
        mailto = f"mailto:{self.unsubscribe_mailto}?subject={quote('unsubscribe ' + reader.token)}"
        msg["List-Unsubscribe"] = f"<{url}>, <{mailto}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058: a POST to the HTTPS link unsubscribes
        msg.set_content(self.text.replace(UNSUBSCRIBE_SLOT, url), cte="quoted-printable")
        msg.add_alternative(self.html.replace(UNSUBSCRIBE_SLOT, html_lib.escape(url)), subtype="html", cte="quoted-printable")
        return msg


def _domain(addr: str) -> str:
    _, email = parseaddr(addr)
    return email.rsplit("@", 1)[-1] if "@" in email else "newsdesk.invalid"


def check_from(addr: str) -> str:
    """One mailbox, possibly with a display name; refuses header injection and lists."""
    if any(c in addr for c in "\r\n") or len(getaddresses([addr])) != 1 or "@" not in parseaddr(addr)[1]:
        raise ValueError(f"NEWSDESK_EMAIL_FROM must be one address like 'AI News <digest@example.org>', not {addr!r}")
    name, email = parseaddr(addr)
    return str(Address(display_name=name, addr_spec=email)) if name else email


@lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(default=True, default_for_string=True))


@lru_cache(maxsize=1)
def _css() -> str:
    return (TEMPLATES / "email.css").read_text(encoding="utf-8")


def _inliner() -> css_inline.CSSInliner:
    # keep_at_rules: the dark-mode and phone @media rules cannot be inlined, so they stay in <style>
    return css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


def _absolute(href: str, site_url: str | None) -> str | None:
    """Links in a mail must be absolute http(s); in-page #anchors stay; anything else goes."""
    if href.startswith("#"):
        return href
    parts = urlsplit(href)
    if parts.scheme in ("http", "https") and parts.netloc:
        return href
    if parts.scheme in ("mailto",):
        return href
    if not parts.scheme and not parts.netloc and site_url:
        return urljoin(site_url.rstrip("/") + "/", href)
    return None


def page_content(page: str, site_url: str | None) -> str:
    """The body of a published day page, made fit for a mail (see the module docstring)."""
    doc = lxml.html.document_fromstring(page)
    body = doc.find("body")
    if body is None:
        body = doc
    for el in body.xpath('.//p[contains(concat(" ", normalize-space(@class), " "), " back ")]|.//script|.//style|.//iframe|.//form'):
        el.drop_tree()
    for el in body.iter():
        if not isinstance(el.tag, str):
            continue
        if el.tag in SECTIONS:
            el.tag = "div"
        if el.tag == "a" and el.get("href") is not None:
            target = _absolute(el.get("href", ""), site_url)
            if target is None:
                el.drop_tag()
                continue
            el.set("href", target)
            if not target.startswith("#"):
                el.set("target", "_blank")
    parts = [lxml.html.tostring(child, encoding="unicode") for child in body]
    return ((body.text or "") + "".join(parts)).strip()


def _fallback_content(markdown: str) -> str:
    """For a revision published before pages were kept: the Markdown's paragraphs, escaped."""
    blocks = [b.strip() for b in re.split(r"\n\s*\n", markdown) if b.strip()]
    return "".join(f"<p>{html_lib.escape(b)}</p>" for b in blocks)


_MD_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")


def plain_text(markdown: str) -> str:
    """The published Markdown as mail text: links spelled out, footnote marks as [n], no emphasis stars."""
    lines = []
    for line in markdown.splitlines():
        m = re.match(r"^\[\^(\d+)\]:\s*(.*)$", line)
        if m:
            body = _MD_LINK.sub(lambda x: f"{x.group(1)} <{x.group(2)}>", m.group(2)).replace("\\[", "[").replace("\\]", "]")
            body = body.replace("&lt;", "<")
            lines.append(f"[{m.group(1)}] {body}")
            continue
        line = re.sub(r"\[\^(\d+)\]", r"[\1]", line)
        line = _MD_LINK.sub(lambda x: f"{x.group(1)} <{x.group(2)}>", line)
        line = re.sub(r"^#{1,6}\s+", "", line)
        line = re.sub(r"(?<![\w*])\*{1,2}([^*\n]+?)\*{1,2}(?![\w*])", r"\1", line)
        line = line.replace("\\[", "[").replace("\\]", "]").replace("&lt;", "<")
        lines.append(line.rstrip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def page_title(pub: PublicationRef) -> str:
    """The published heading: "# Title", or the first line that is not the correction note."""
    first = next((ln.strip() for ln in pub.markdown.splitlines() if ln.strip() and not ln.startswith(">")), "")
    return _heading(pub.markdown) or first or pub.title or f"AI news {pub.day}"


def subject_of(pub: PublicationRef) -> str:
    """The page's heading ("Awesome AI Daily | day", or the digest's title); a bare brand gets the date."""
    title = page_title(pub)
    if title in BRANDS.values():
        title = f"{title} · {long_day(pub.day)}"
    if pub.revision > 1:
        return f"Correction: {title}"
    return title


def build_edition(pub: PublicationRef, settings: DeliverySettings) -> Edition:
    """Render and inline once per revision; raises ValueError naming what configuration is missing."""
    email = settings.email
    missing = [n for n in email.missing() if n != "NEWSDESK_SMTP_URL"]
    if missing:
        raise ValueError(f"the newsletter needs {', '.join(missing)}")
    from_addr = check_from(email.from_addr or "")
    site_url = settings.site_url.rstrip("/") if settings.site_url else None
    subject = subject_of(pub)
    brand = BRANDS.get(pub.style, "the digest")
    content = page_content(pub.html, site_url) if pub.html else _fallback_content(pub.markdown)
    web_url = f"{site_url}/{pub.day}.html" if site_url else None
    page = _env().get_template("email.html.j2").render(
        subject=subject, css=_css(), preheader=_summary(pub.markdown, 140), content=content, web_url=web_url,
        site_url=site_url, site_host=urlsplit(site_url).netloc if site_url else "", brand=brand,
        unsubscribe_url=UNSUBSCRIBE_SLOT,
    )
    html = _inliner().inline(page)
    intro = [f"View in your browser: {web_url}", ""] if web_url else []
    footer = ["", "-- ", f"You get {brand} because you subscribed.", f"Unsubscribe with one click: {UNSUBSCRIBE_SLOT}"]
    text = "\n".join(intro) + plain_text(pub.markdown) + "\n".join(footer) + "\n"
    mailto = email.unsubscribe_mailto or parseaddr(from_addr)[1]
    return Edition(day=pub.day, revision=pub.revision, subject=subject, html=html, text=text, from_addr=from_addr,
                   reply_to=email.reply_to, desk_url=email.desk_url or "", unsubscribe_mailto=mailto,
                   list_id=f"{brand} <{pub.style}.{_domain(from_addr)}>")
