"""A generic webhook: the notification as JSON, optionally HMAC-signed.

Contract:

* The URL is the Secret's key ``url``, else ``spec.address``.
* ``payload(n, now)`` (pure): ``{"trigger", "app": {"namespace", "name",
  "project", "repoURL"}, "revision", "title", "body", "status", "facts":
  [{"name", "value"}], "app_url", "timestamp"}`` (RFC 3339, UTC).
* With Secret key ``hmacKey`` the request carries ``X-Driftless-Timestamp``
  (unix seconds) and ``X-Driftless-Signature: sha256=<hex of HMAC-SHA256(key,
  timestamp + "." + body)>`` — the scheme driftless' own generic webhook
  receiver checks, so a receiver can refuse replays older than a few minutes.
  ``signature(key, timestamp, body)`` (pure) computes it over the exact bytes
  sent. The key is the Secret's value with surrounding whitespace stripped
  (a trailing newline of ``kubectl create secret --from-file``), as the
  receiver reads its own.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
from typing import Any

import httpx

from driftless.notifications.message import Notification, Target
from driftless.notifications.services import transport

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "body", "payload", "send", "signature"]

SIGNATURE_HEADER = "X-Driftless-Signature"
TIMESTAMP_HEADER = "X-Driftless-Timestamp"


def payload(n: Notification, now: datetime.datetime) -> dict[str, Any]:
    return {
        "trigger": n.trigger,
        "app": {
            "namespace": n.app_namespace,
            "name": n.app_name,
            "project": n.project,
            "repoURL": n.repo_url,
        },
        "revision": n.revision,
        "title": n.title,
        "body": n.body,
        "status": n.status,
        "facts": [{"name": k, "value": v} for k, v in n.facts],
        "app_url": n.app_url,
        "timestamp": now.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z"),
    }


def body(n: Notification, now: datetime.datetime) -> bytes:
    return json.dumps(payload(n, now), ensure_ascii=False, separators=(",", ":")).encode()


def signature(key: str, timestamp: str, content: bytes) -> str:
    mac = hmac.new(key.encode(), timestamp.encode() + b"." + content, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


async def send(n: Notification, t: Target, http: httpx.AsyncClient) -> None:
    url = transport.http_url(t.secrets.get("url") or t.address, t, "Secret key url")
    now = datetime.datetime.now(datetime.UTC)
    content = body(n, now)
    headers = {"Content-Type": "application/json; charset=utf-8"}
    # Stripped as driftless' own webhook receiver strips its Secret's values.
    key = t.secrets.get("hmacKey", "").strip()
    if key:
        timestamp = str(int(now.timestamp()))
        headers[TIMESTAMP_HEADER] = timestamp
        headers[SIGNATURE_HEADER] = signature(key, timestamp, content)
    await transport.post(http, url, service=t, content=content, headers=headers)
