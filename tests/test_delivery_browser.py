"""The newsletter email in headless Chromium: a phone (375 px) and a desktop, light and dark.

Screenshots go to the test's temp dir (and to $NEWSDESK_SCREENSHOTS when set,
for a human look). Skips when Chromium or Playwright is missing.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from review.delivery.send import send_revision_sync
from smtp_server import SmtpServer
from storage.db import Database
from test_delivery_email import DAY, add_readers, delivery_settings, published
from test_review_browser import browser, shot  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 900}

# WCAG relative luminance and contrast, computed in the page from computed styles
CONTRAST_JS = """
(sel) => {
  const lum = (rgb) => {
    const [r, g, b] = rgb.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number).map(v => {
      v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const el = document.querySelector(sel);
  let bgEl = el, bg = getComputedStyle(bgEl).backgroundColor;
  while (bg === 'rgba(0, 0, 0, 0)' && bgEl.parentElement) { bgEl = bgEl.parentElement; bg = getComputedStyle(bgEl).backgroundColor; }
  const fg = getComputedStyle(el).color;
  const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  return {fg, bg, ratio: (a + 0.05) / (b + 0.05), bgLum: lum(bg), size: parseFloat(getComputedStyle(el).fontSize)};
}
"""


@pytest.fixture
def email_html(db: Database, tmp_path: Path, style: str) -> str:
    published(db, tmp_path, style=style)
    add_readers(db, ["reader1@example.com"])
    with SmtpServer() as smtp:
        send_revision_sync(db, delivery_settings(smtp), DAY, email=True)
        return smtp.received[0].message.get_body(("html",)).get_content()


@pytest.mark.parametrize("style", ["awesome-ai-daily", "ai-news-digest"])
def test_the_email_reads_well_on_a_phone_and_a_desktop_in_light_and_dark(email_html, browser, shot, style) -> None:  # noqa: F811
    for scheme in ("light", "dark"):
        for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
            ctx = browser.new_context(viewport=viewport, color_scheme=scheme, java_script_enabled=True)
            page = ctx.new_page()
            page.set_content(email_html, wait_until="load")
            shot(page, f"email-{style}-{name}-{scheme}", full=True)
            width = page.evaluate("document.documentElement.scrollWidth")
            sheet = page.evaluate("document.querySelector('.sheet').getBoundingClientRect().width")
            text = page.evaluate(CONTRAST_JS, ".content p")
            link = page.evaluate(CONTRAST_JS, ".content a, .footer a")
            footer = page.evaluate(CONTRAST_JS, ".footer p")
            ctx.close()
            assert width <= viewport["width"], f"{name}/{scheme}: scrolls sideways ({width}px)"
            if name == "phone":
                assert sheet >= viewport["width"] - 20 and text["size"] >= 16, (sheet, text)
            else:
                assert sheet <= 600
            for label, c in (("text", text), ("link", link), ("footer", footer)):
                assert c["ratio"] >= 4.5, f"{name}/{scheme} {label} contrast {c['ratio']:.2f} ({c['fg']} on {c['bg']})"
            assert (text["bgLum"] < 0.05) == (scheme == "dark"), f"{scheme}: background {text['bg']}"
