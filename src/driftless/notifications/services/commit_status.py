"""Commit statuses on GitHub, GitLab and Gitea (Forgejo): one per app on the synced commit.

Contract:

* The repository is the app's ``repoURL`` read by ``core.repourl`` (https,
  ssh, scp-like, trailing ``.git``); the commit is ``n.revision``, a full
  commit id (40 or 64 hex digits) or the send fails permanently: a revision is
  put in a URL path, so nothing else may pass.
* The API is the service's own: ``spec.address``, else ``https://api.github.com``
  (github) or ``https://gitlab.com`` (gitlab); gitea has no default. The address
  is the forge's URL (GitLab's ``/api/v4`` and Gitea's ``/api/v1`` are added)
  or its API root (``https://gitea.example.com/api/v1``, not added twice);
  GitHub Enterprise's is its API root, ``https://ghe.example.com/api/v3``. The token
  (Secret key ``token``) goes to that host only, never to a host read from the
  app's repository URL; and the repository's host must be the API's host (or
  ``api.<host>``), else the status would land on a same-named repository of
  another forge: refused.
* Requests, as each forge documents them:
  - github: ``POST {api}/repos/{owner}/{repo}/statuses/{sha}``,
    ``Authorization: Bearer``, ``Accept: application/vnd.github+json``, body
    ``{state: pending|success|failure, target_url, description, context}``;
  - gitlab: ``POST {api}/api/v4/projects/{url-encoded path}/statuses/{sha}``,
    ``PRIVATE-TOKEN``, body ``{state: running|success|failed, name,
    target_url, description}`` (a sync in progress is ``running``);
  - gitea: ``POST {api}/api/v1/repos/{owner}/{repo}/statuses/{sha}``,
    ``Authorization: token``, body ``{state: pending|success|failure, context,
    description, target_url}``.
  The context (GitLab's ``name``) is ``driftless/<namespace>/<app>``: one
  status per app, so several apps of one repository do not overwrite each
  other. The description is the title, cut to 140 characters; ``target_url``
  the app's page when there is one.
* ``status_request(forge, n, api_base)`` (pure) returns the path and body;
  ``send`` adds the host check, the auth headers and the POST.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from driftless.core.errors import SourceError
from driftless.core.repourl import parse_repo_url
from driftless.notifications.message import DeliveryError, Notification, Target
from driftless.notifications.services import transport

__all__ = [
    "DEFAULT_APIS",
    "DESCRIPTION_MAX",
    "STATES",
    "Repo",
    "StatusRequest",
    "context_name",
    "repo_of",
    "send",
    "status_request",
]

DEFAULT_APIS = {"github": "https://api.github.com", "gitlab": "https://gitlab.com"}
DESCRIPTION_MAX = 140
#: The notification's status in each forge's words.
STATES = {
    "github": {"pending": "pending", "success": "success", "failure": "failure"},
    "gitlab": {"pending": "running", "success": "success", "failure": "failed"},
    "gitea": {"pending": "pending", "success": "success", "failure": "failure"},
}
_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_SEGMENT = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_.\-]*$")


class StatusError(ValueError):
    """Why no status can be posted for this notification (no secret in it)."""


@dataclass(frozen=True)
class Repo:
    host: str
    segments: tuple[str, ...]  # ("owner", "repo") or GitLab's ("group", "sub", "project")


@dataclass(frozen=True)
class StatusRequest:
    prefix: str  # the API's root below the host: "/api/v4" (gitlab), "/api/v1" (gitea), ""
    path: str  # below the prefix, already percent-encoded
    body: dict[str, Any]

    @property
    def full_path(self) -> str:
        return self.prefix + self.path

    def url(self, base: httpx.URL) -> httpx.URL:
        """The endpoint under ``base``, whether ``base`` names the API root or the host."""
        root = base.raw_path.decode("ascii").partition("?")[0].rstrip("/")
        has_prefix = bool(self.prefix) and root.endswith(self.prefix)
        return transport.under(base, self.path if has_prefix else self.full_path)


def repo_of(repo_url: str) -> Repo:
    """The host and path segments of a repository URL, ``.git`` dropped."""
    try:
        parsed = parse_repo_url(repo_url)
    except SourceError:
        raise StatusError("the app's repoURL is not a repository URL") from None
    if parsed.is_local or not parsed.host:
        raise StatusError("the app's repository is not on a forge")
    segments = tuple(s for s in parsed.path.strip("/").split("/") if s)
    if segments and segments[-1].endswith(".git"):
        segments = (*segments[:-1], segments[-1][: -len(".git")])
    if len(segments) < 2 or not all(_SEGMENT.match(s) and s not in ("..",) for s in segments):
        raise StatusError("the app's repoURL names no owner/repository path")
    return Repo(parsed.host, segments)


def context_name(n: Notification) -> str:
    return f"driftless/{n.app_namespace}/{n.app_name}"


def _description(n: Notification) -> str:
    text = " ".join(n.title.split()) or n.trigger
    return text if len(text) <= DESCRIPTION_MAX else text[: DESCRIPTION_MAX - 1] + "…"


def status_request(forge: str, n: Notification, repo: Repo) -> StatusRequest:
    """The forge's API path and JSON body for ``n`` (see the module docstring)."""
    sha = (n.revision or "").lower()
    if not _SHA.match(sha):
        raise StatusError("the notification names no full commit id")
    state = STATES[forge].get(n.status)
    if state is None:
        raise StatusError(f"status {n.status!r} has no commit status")
    target = n.app_url if n.app_url and n.app_url.startswith(("https://", "http://")) else None
    body: dict[str, Any] = {"state": state, "description": _description(n)}
    if target:
        body["target_url"] = target
    if forge == "gitlab":
        project = quote("/".join(repo.segments), safe="")
        body["name"] = context_name(n)
        return StatusRequest("/api/v4", f"/projects/{project}/statuses/{sha}", body)
    if len(repo.segments) != 2:
        raise StatusError("the app's repoURL is not an owner/repository path")
    owner, name = (quote(s, safe="") for s in repo.segments)
    body["context"] = context_name(n)
    prefix = "/api/v1" if forge == "gitea" else ""
    return StatusRequest(prefix, f"/repos/{owner}/{name}/statuses/{sha}", body)


def _same_forge(api_host: str, repo_host: str) -> bool:
    api, repo = api_host.lower().rstrip("."), repo_host.lower().rstrip(".")
    return api in (repo, f"api.{repo}")


def _auth(forge: str, token: str) -> dict[str, str]:
    if forge == "github":
        return {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
    if forge == "gitlab":
        return {"PRIVATE-TOKEN": token}
    return {"Authorization": f"token {token}", "Accept": "application/json"}


async def send(n: Notification, t: Target, http: httpx.AsyncClient) -> None:
    if t.type not in STATES:
        raise DeliveryError(f"{transport.label(t)}: not a commit status service", retriable=False)
    base = transport.http_url(t.address or DEFAULT_APIS.get(t.type), t, "spec.address")
    token = transport.header_secret(t, "token")
    try:
        repo = repo_of(n.repo_url)
        request = status_request(t.type, n, repo)
    except StatusError as error:
        raise DeliveryError(f"{transport.label(t)}: {error}", retriable=False) from None
    if not _same_forge(base.host, repo.host):
        raise DeliveryError(
            f"{transport.label(t)}: the app's repository is on {repo.host}, not on this"
            f" service's host {base.host}",
            retriable=False,
        )
    url = request.url(base)
    content = json.dumps(request.body, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json"} | _auth(t.type, token)
    await transport.post(http, url, service=t, content=content, headers=headers)
