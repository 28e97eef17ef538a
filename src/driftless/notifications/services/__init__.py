"""The notification services: one ``send`` per ``NotificationService`` type.

Each is ``async def send(n: Notification, t: Target, http: httpx.AsyncClient)
-> None`` and raises ``DeliveryError`` (retriable or not, never holding a
secret) when the message did not arrive. ``SENDERS`` maps ``spec.type`` to
it; ``send`` dispatches, an unknown type failing permanently. Retries, rate
limits and queueing are ``delivery``'s, not the services'.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType

import httpx

from driftless.notifications.message import DeliveryError, Notification, Target
from driftless.notifications.services import commit_status, slack, smtp, teams, webhook

__all__ = ["SENDERS", "Sender", "send"]

Sender = Callable[[Notification, Target, httpx.AsyncClient], Awaitable[None]]

SENDERS: Mapping[str, Sender] = MappingProxyType(
    {
        "slack": slack.send,
        "teams": teams.send,
        "webhook": webhook.send,
        "smtp": smtp.send,
        "github": commit_status.send,
        "gitlab": commit_status.send,
        "gitea": commit_status.send,
    }
)


async def send(n: Notification, t: Target, http: httpx.AsyncClient) -> None:
    """Deliver ``n`` through the service ``t`` once (no retry)."""
    sender = SENDERS.get(t.type)
    if sender is None:
        raise DeliveryError(
            f"{t.type!r} service {t.namespace}/{t.name}: unknown service type", retriable=False
        )
    await sender(n, t, http)
