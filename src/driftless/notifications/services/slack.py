"""Slack: an incoming webhook, or a bot token calling ``chat.postMessage``.

Contract:

* With Secret key ``token`` (and ``spec.channel``) the message goes to
  ``<spec.address or https://slack.com/api>/chat.postMessage`` with
  ``Authorization: Bearer <token>`` and a JSON body ``{channel, text, blocks}``.
  Slack answers 200 ``{"ok": false, "error": code}`` on failure: that fails the
  send, retriable only for ``ratelimited`` and Slack's own internal errors;
  the error code (a fixed word of Slack's vocabulary) is in the message.
* Otherwise Secret key ``url`` (the incoming webhook URL, a credential) gets
  ``{text, blocks}``.
* ``blocks(n)`` (pure) is Block Kit within Slack's documented limits: a
  ``header`` (plain_text, 150 chars), a ``section`` with the body (mrkdwn,
  3000), a ``section`` with up to 10 ``fields`` from ``n.facts`` (2000 each), a
  ``context`` naming the app, trigger and revision, and an ``actions`` button
  to ``n.app_url`` when there is one (http(s) only).
* Rendered text is untrusted (a commit message may be in it): ``&``, ``<`` and
  ``>`` are escaped as Slack documents, so a message can never ``@channel``,
  mention users or hide a link behind other text.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from driftless.notifications.message import DeliveryError, Notification, Target
from driftless.notifications.services import transport

__all__ = ["DEFAULT_API", "blocks", "bot_payload", "escape", "send", "webhook_payload"]

DEFAULT_API = "https://slack.com/api"
_HEADER_MAX = 150
_SECTION_MAX = 3000
_FIELD_MAX = 2000
_FIELDS_MAX = 10
_BUTTON_TEXT = "Open in driftless"
_TEXT_MAX = 4000
_ERROR_CODE = re.compile(r"^[a-z_]{1,64}$")
_RETRIABLE_ERRORS = frozenset(
    {"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable"}
)


def escape(text: str) -> str:
    """Text Slack shows as written: its three control characters escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cut_escaped(escaped: str, limit: int) -> str:
    """Escaped text cut to ``limit``; an entity the cut split (``&am…``) goes whole."""
    return re.sub(r"&[a-z]{0,3}…$", "…", _cut(escaped, limit))


def _mrkdwn(escaped: str, limit: int) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": _cut_escaped(escaped, limit)}


def _title(n: Notification) -> str:
    # One line: a header shows no line breaks, and a title is a summary.
    return " ".join(n.title.split()) or f"{n.app_namespace}/{n.app_name}: {n.trigger}"


def _is_link(url: str | None) -> bool:
    return url is not None and url.startswith(("https://", "http://")) and len(url) <= 3000


def blocks(n: Notification) -> list[dict[str, Any]]:
    """The message's Block Kit blocks (see the module docstring)."""
    out: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _cut(_title(n), _HEADER_MAX), "emoji": True},
        }
    ]
    if n.body.strip():
        out.append({"type": "section", "text": _mrkdwn(escape(n.body), _SECTION_MAX)})
    if n.facts:
        fields = [
            _mrkdwn(f"*{escape(k)}*\n{escape(v)}", _FIELD_MAX) for k, v in n.facts[:_FIELDS_MAX]
        ]
        out.append({"type": "section", "fields": fields})
    context = escape(f"{n.app_namespace}/{n.app_name} · {n.trigger}")
    if n.revision:
        context += f" · `{escape(n.revision[:12])}`"
    out.append({"type": "context", "elements": [_mrkdwn(context, _SECTION_MAX)]})
    if _is_link(n.app_url):
        out.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": _BUTTON_TEXT},
                        "url": n.app_url,
                        "action_id": "open-app",
                    }
                ],
            }
        )
    return out


def _fallback(n: Notification) -> str:
    """The notification text: shown by clients that draw no blocks, and in alerts."""
    text = escape(_title(n)) + ("\n" + escape(n.body) if n.body.strip() else "")
    return _cut_escaped(text, _TEXT_MAX)


def webhook_payload(n: Notification) -> dict[str, Any]:
    return {"text": _fallback(n), "blocks": blocks(n)}


def bot_payload(n: Notification, channel: str) -> dict[str, Any]:
    return {"channel": channel, "text": _fallback(n), "blocks": blocks(n)}


async def send(n: Notification, t: Target, http: httpx.AsyncClient) -> None:
    if t.secrets.get("token"):
        await _send_bot(n, t, http)
        return
    url = transport.http_url(t.secrets.get("url"), t, "Secret key url")
    await transport.post(http, url, service=t, content=_json(webhook_payload(n)), headers=_JSON)


async def _send_bot(n: Notification, t: Target, http: httpx.AsyncClient) -> None:
    token = transport.header_secret(t, "token")
    if not t.channel:
        raise DeliveryError(f"{transport.label(t)}: spec.channel is not set", retriable=False)
    base = transport.http_url(t.address or DEFAULT_API, t, "spec.address")
    url = transport.under(base, "/chat.postMessage")
    answer = await transport.post(
        http,
        url,
        service=t,
        content=_json(bot_payload(n, t.channel)),
        headers=_JSON | {"Authorization": f"Bearer {token}"},
    )
    _check_ok(answer.body, t)


def _check_ok(body: bytes, t: Target) -> None:
    try:
        verdict = json.loads(body)
    except ValueError:
        verdict = None
    if not isinstance(verdict, dict):
        raise DeliveryError(f"{transport.label(t)}: Slack's answer is not JSON", retriable=True)
    if verdict.get("ok") is True:
        return
    error = verdict.get("error")
    code = error if isinstance(error, str) and _ERROR_CODE.match(error) else "unknown"
    raise DeliveryError(
        f"{transport.label(t)}: Slack answered {code}", retriable=code in _RETRIABLE_ERRORS
    )


_JSON = {"Content-Type": "application/json; charset=utf-8"}


def _json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
