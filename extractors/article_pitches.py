"""Recognise calls to action inside the article body: sign-up boxes, follow-us calls, buttons.

Sites put a sign-up box between the paragraphs or under the story ("Sign
up for our newsletter for the best of the city", "Get the latest updates
right in your inbox"). Its lines are sentences, so the short-line
boilerplate shapes miss them; they are told from story text that talks
about newsletters by their form: a line that opens with the call itself,
or promises delivery to the reader's inbox. List items are left alone
(a list of tips may well say "subscribe to industry newsletters").
The site's or the author's call to follow them elsewhere ("Follow me on
Instagram for new recipes") is the same kind of line, and so is a button's
label left on a line of its own ("Read more", "Book a demo", "Back to top").
"""
from __future__ import annotations

import re

_TOPIC = re.compile(r"\b(newsletters?|inbox|mailing list|e-?mail list|emails)\b", re.I)
_CALL = re.compile(r"^(click here to |be sure to |don'?t forget to )?(sign(ing)? up|subscribe|join|get|receive|enter your)\b", re.I)
_TO_INBOX = re.compile(r"\b(delivered|straight|right|directly|dropped)( right)? (to|in|into) your inbox\b", re.I)
_SUBSCRIBED = re.compile(r"^\W*(awesome|great|success|thanks?( you)?)\W+(you('re| are)|you've been) (now )?(subscribed|signed up)\W*$", re.I)
# The form's own fields and fine print: "Enter your email:", "First name (optional)".
_FORM = re.compile(
    r"^(enter (your )?e-?mail( address)?( here)?|your e-?mail( address)?|e-?mail address|first name|last name"
    r"|by (entering|submitting|providing) your e-?mail.*|.{0,20}\bwe already have (this|your) e-?mail\b.{0,40})\s*(\(optional\))?\s*[:*.]?$",
    re.I,
)
# The site or the author asking to be followed; a named person ("Follow Jane on X") may be a
# story's sign-off and is left to the edge rules.
_FOLLOW = re.compile(r"^\W*(follow|like|join|connect with) (us|me) on\b", re.I)
_FOLLOW_MAX_WORDS = 25
# A button's label alone on its line; with a colon it introduces a list ("Learn more:") and stays.
_BUTTON = re.compile(
    r"^\W*(read more|learn more|download now|back to top|get started( today| now)?|sign up( now| today)?"
    r"|subscribe( now)?|book a demo|request a demo|contact us|see more|view all|show more|load more|see details"
    r"|shop now|buy now|try it free|start free trial|get the app|read the article|read full article|continue reading)"
    r"[^\w:]*$",
    re.I,
)
_MAX_WORDS = 40  # a sign-up box's line; longer lines are paragraphs about the topic
_LIST_MARKS = ("-", "*", "•")


def is_call_to_action(line: str) -> bool:
    """True for a sign-up box line (the call, an inbox promise, a form field, the confirmation), a follow-us call, a button."""
    text = line.strip()
    if not text:
        return False
    if _SUBSCRIBED.match(text) or _FORM.match(text) or _BUTTON.match(text):
        return True
    if _FOLLOW.match(text) and len(text.split()) <= _FOLLOW_MAX_WORDS:
        return True
    if len(text.split()) > _MAX_WORDS or text.startswith(_LIST_MARKS) or not _TOPIC.search(text):
        return False
    return bool(_CALL.match(text) or _TO_INBOX.search(text))
