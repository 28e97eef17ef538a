"""Microsoft Teams: an Adaptive Card posted to a Workflows (or incoming) webhook.

Contract:

* The webhook URL is the Secret's key ``url`` (a credential: never in a
  message or a log). The body is the message Teams documents for webhooks:
  ``{"type": "message", "attachments": [{"contentType":
  "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content":
  <AdaptiveCard 1.4>}]}``.
* ``card(n)`` (pure): a bold title ``TextBlock`` coloured by status (Good,
  Attention, Accent), the body as a wrapping ``TextBlock``, a ``FactSet`` from
  ``n.facts``, a subtle line naming the app, trigger and revision, and an
  ``Action.OpenUrl`` to ``n.app_url`` when there is one (http(s) only).
  Text is cut to stay far below Teams' 28 KB message limit.
* Rendered text is untrusted (a commit message, an app name): the Markdown
  Adaptive Cards interpret (CommonMark: emphasis, code, links, and lists,
  quotes, headings at a line's start) is backslash-escaped, and ``{{`` broken,
  so a commit message can neither hide a link behind other words nor call a
  card function (``{{DATE(..)}}``).
* Workflows answer 202, legacy connectors 200 with ``1``; a legacy connector
  reports its own throttling as a 200 whose text says ``HTTP error 429``: that
  is a retriable failure.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from driftless.notifications.message import DeliveryError, Notification, Target
from driftless.notifications.services import transport

__all__ = ["CARD_CONTENT_TYPE", "card", "escape", "payload", "send"]

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
_COLOURS = {"success": "Good", "failure": "Attention", "pending": "Accent"}
_TITLE_MAX = 300
_BODY_MAX = 8000
_FACTS_MAX = 20
_FACT_MAX = 500


# CommonMark punctuation that starts markup anywhere (emphasis, code, links, autolinks)...
_INLINE = re.compile(r"([\\`*_\[\]<~])")
# ... and what starts a list, a quote or a heading at the start of a line.
_LINE_START = re.compile(r"^(\s*)([-+>#]|\d+(?=[.)]))", re.MULTILINE)


def escape(text: str) -> str:
    """``text`` shown as written in a TextBlock or a FactSet (no Markdown, no functions)."""
    text = _INLINE.sub(r"\\\1", text)
    text = _LINE_START.sub(_escape_line_start, text)
    # Card functions ({{DATE(...)}}): a zero-width space between the braces.
    return text.replace("{{", "{\u200b{")


def _escape_line_start(match: re.Match[str]) -> str:
    indent, mark = match.group(1), match.group(2)
    if mark.isdigit():  # "1." / "1)": the dot or parenthesis after the number is escaped
        return indent + mark + "\\"
    return indent + "\\" + mark


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(text: str, limit: int) -> str:
    """Cut, then escaped (an escape is never cut in half)."""
    return escape(_cut(text, limit))


def card(n: Notification) -> dict[str, Any]:
    """The Adaptive Card of one notification (see the module docstring)."""
    title = n.title.strip() or f"{n.app_namespace}/{n.app_name}: {n.trigger}"
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": _text(title, _TITLE_MAX),
            "size": "Large",
            "weight": "Bolder",
            "color": _COLOURS.get(n.status, "Default"),
            "wrap": True,
        }
    ]
    if n.body.strip():
        body.append({"type": "TextBlock", "text": _text(n.body, _BODY_MAX), "wrap": True})
    if n.facts:
        facts = [
            {"title": _text(k, _FACT_MAX), "value": _text(v, _FACT_MAX)}
            for k, v in n.facts[:_FACTS_MAX]
        ]
        body.append({"type": "FactSet", "facts": facts})
    context = f"{n.app_namespace}/{n.app_name} · {n.trigger}"
    if n.revision:
        context += f" · {n.revision[:12]}"
    body.append(
        {
            "type": "TextBlock",
            "text": escape(context),
            "isSubtle": True,
            "size": "Small",
            "wrap": True,
        }
    )
    content: dict[str, Any] = {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if n.app_url and n.app_url.startswith(("https://", "http://")):
        content["actions"] = [
            {"type": "Action.OpenUrl", "title": "Open in driftless", "url": n.app_url}
        ]
    return content


def payload(n: Notification) -> dict[str, Any]:
    return {
        "type": "message",
        "attachments": [{"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": card(n)}],
    }


async def send(n: Notification, t: Target, http: httpx.AsyncClient) -> None:
    url = transport.http_url(t.secrets.get("url") or t.address, t, "Secret key url")
    content = json.dumps(payload(n), ensure_ascii=False, separators=(",", ":")).encode()
    answer = await transport.post(
        http,
        url,
        service=t,
        content=content,
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    if answer.status == 200 and b"HTTP error 429" in answer.body:
        raise DeliveryError(f"{transport.label(t)}: HTTP 429 (from the connector)", retriable=True)
