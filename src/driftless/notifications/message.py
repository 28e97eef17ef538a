"""What the notification engine hands to a service, and how a send fails (pure).

Contract between ``driftless.notifications.engine`` (which decides *what* to
say) and ``driftless.notifications.services`` / ``delivery`` (which decide
*how* to say it):

* ``Notification`` is one rendered message about one Application and one
  trigger. Every field is already safe to show: ``repo_url`` has credentials
  redacted, ``title``/``body`` are rendered templates (untrusted text: a
  commit message may be in them; services must escape it for their format).
* ``Target`` is one ``NotificationService`` with its Secret resolved. Its
  ``secrets`` are never logged, put in an Event, a status or an exception
  message; ``repr`` hides them.
* ``DeliveryError`` is what a service raises when a send fails. ``retriable``
  says whether delivery should try again (5xx, 429, timeouts) and
  ``retry_after`` is the server's hint in seconds (``Retry-After``). Its
  message must never hold a secret (no webhook URL, no token).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["STATUSES", "DeliveryError", "Notification", "Target"]

# Commit-status states and message colours, in the services' own words.
STATUSES = ("pending", "success", "failure")


@dataclass(frozen=True)
class Notification:
    """One rendered message about one Application and one trigger."""

    trigger: str  # "on-sync-succeeded", ...
    app_namespace: str
    app_name: str
    project: str
    repo_url: str  # as the app wrote it, credentials redacted
    revision: str | None  # the full commit id the trigger is about
    title: str  # rendered template
    body: str  # rendered template (plain text / light markdown)
    status: str  # "pending" | "success" | "failure"
    app_url: str | None  # link to the UI, None when no --ui-url
    facts: tuple[tuple[str, str], ...] = ()  # ("Sync", "Synced"), ("Health", "Healthy"), ...


@dataclass(frozen=True)
class Target:
    """One NotificationService, its Secret resolved (never logged)."""

    type: str  # slack | teams | webhook | smtp | github | gitlab | gitea
    name: str
    namespace: str
    address: str | None = None
    channel: str | None = None
    recipients: tuple[str, ...] = ()
    sender: str | None = None
    # Keys: url, token, username, password, hmacKey, ca.crt. Hidden from repr.
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False, hash=False, compare=False)
    start_tls: bool = True
    insecure_skip_tls: bool = False
    rate_per_minute: int = 60

    @property
    def key(self) -> tuple[str, str]:
        """(namespace, name): one rate limit and one queue identity per service."""
        return (self.namespace, self.name)


class DeliveryError(Exception):
    """A send failed; the message never holds a secret."""

    def __init__(self, message: str, *, retriable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retriable = retriable
        self.retry_after = retry_after
