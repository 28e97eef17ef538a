"""Charts from Helm repositories and OCI registries, resolved and cached on disk.

Contract of ``fetch_chart(repo_url, chart, wanted, ...)``:

* ``repo_url`` is a Helm repository (``https://…`` or ``http://…`` serving
  ``index.yaml``) or an OCI registry path (``oci://host[:port]/path``, the
  chart then being ``host/path/<chart>``). ``wanted`` is the app's
  ``targetRevision``: an exact version, a semver range, or empty/``HEAD`` for
  the newest release (see ``chart_versions``).
* The available versions come from the repository index or the registry's
  tag list (Helm stores ``+`` as ``_`` in tags); the highest match is taken.
* The chart archive is downloaded over plain HTTP(S) (``chart_http``; the
  registry's anonymous token dance included), its sha256 checked against the
  index digest or the OCI layer digest, and extracted (``tarfile``'s ``data``
  filter: no absolute paths, no ``..``, no links out, no devices) under
  ``<cache_root>/<host>-<hash of URL and access>/<chart>/<version>/``. Entries appear
  atomically (rename of a finished temp directory), so a crash leaves no half
  chart, and two concurrent fetches of one chart are harmless.
* An exact version already in the cache is returned without any network
  access; a range always re-reads the index or tag list (it may have moved).
* Credentials: user info in ``repo_url`` (``https://user:token@host/…``) is
  the repository's credential, bound to that URL's origin (scheme, host,
  port) and sent by ``chart_http`` only there: an index entry whose archive
  lives on another host, a redirect elsewhere or a token realm elsewhere gets
  nothing. The cache entry is keyed by what grants access
  (``chart_access.fingerprint``; anonymous is its own key), so an app without
  the credential never gets a private chart another app fetched: it goes to
  the server and gets the server's refusal. ``FetchedChart.identity`` carries
  the same fingerprint, so render caches keyed by it separate them too.
* Only ``http(s)://`` and ``oci://`` repositories, and only ``http(s)://``
  archive URLs in an index (relative ones resolved against the index URL):
  ``file://``, paths and any other scheme are a ``SourceError`` naming the
  entry, never read.
* Bounds (this runs in the controller process): the index is at most
  ``yaml_docs.INDEX_LIMITS`` (32 MiB, 1M nodes; see there for the measured
  worst case), an archive at most ``MAX_ARCHIVE_BYTES`` compressed. The
  archive is read one header at a time and refused once it has more than
  ``MAX_ARCHIVE_MEMBERS`` entries or its entries add up to more than
  ``MAX_EXTRACTED_BYTES``, before anything is extracted.
* Errors: unreachable or 5xx → ``SourceUnavailableError``; unknown chart, no
  matching version, a bad URL, a digest mismatch or an archive without
  ``Chart.yaml`` → ``SourceError``. Messages never contain credentials.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import re
import shutil
import tarfile
import urllib.parse
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftless.core.errors import RenderError, SourceError
from driftless.render import chart_access, chart_http, chart_versions, yaml_docs
from driftless.render.chart_http import redact

MAX_INDEX_BYTES = yaml_docs.INDEX_LIMITS.max_bytes
MAX_ARCHIVE_BYTES = 64 * 1024 * 1024
MAX_EXTRACTED_BYTES = 256 * 1024 * 1024
MAX_ARCHIVE_MEMBERS = 10_000
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
HELM_CHART_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
_CHART_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*(/[A-Za-z0-9][A-Za-z0-9._\-]*)*$")
_SAFE_VERSION = re.compile(r"^[0-9A-Za-z.+_\-]+$")
_MAX_TAG_PAGES = 50


@dataclass(frozen=True)
class FetchedChart:
    """One chart version on local disk; ``path`` is the directory holding Chart.yaml."""

    repo_url: str
    chart: str
    version: str
    path: Path
    access: str = ""  # chart_access fingerprint of the credential; "" when anonymous

    @property
    def identity(self) -> str:
        """What names this chart content *for this credential* (cache keys).

        It never contains the credential, only its keyed fingerprint.
        """
        shown = f"{redact(self.repo_url)} {self.chart}@{self.version}"
        return f"{shown} access:{self.access}" if self.access else shown


@dataclass(frozen=True)
class _Candidate:
    """A version the repository offers and how to download it."""

    version: str
    locator: str  # archive URL (Helm repository) or tag (OCI)
    digest: str | None


async def fetch_chart(
    repo_url: str,
    chart: str,
    wanted: str,
    *,
    cache_root: Path,
    plain_http_registries: frozenset[str] = frozenset(),
    timeout: float = 120.0,
    credentials: tuple[str, str] | None = None,
) -> FetchedChart:
    """Resolve ``wanted`` among the versions of ``chart`` and return it on disk.

    ``credentials`` (user name, password) are the ones driftless holds for
    ``repo_url``; they are bound to the origin the repository is fetched from.
    """
    if not _CHART_NAME.match(chart) or ".." in chart.split("/"):
        raise SourceError(f"invalid chart name {chart!r}")
    repo = _Repository.parse(repo_url, chart, plain_http_registries)
    if repo.auth is None and credentials is not None:
        bound = chart_http.BasicAuth(chart_http.origin(repo.url), *credentials)
        repo = dataclasses.replace(repo, auth=bound)
    access = await asyncio.to_thread(chart_access.fingerprint, repo.auth, cache_root)
    base = cache_root / repo.cache_dir_name(access) / chart.replace("/", "_")
    if chart_versions.is_exact(wanted):
        cached = _cached(base, wanted.strip())
        if cached is not None:
            return FetchedChart(repo_url, chart, wanted.strip(), cached, access)
    candidates = await asyncio.to_thread(repo.candidates, timeout)
    picked = _pick(candidates, wanted, chart, repo_url)
    cached = _cached(base, picked.version)
    if cached is None:
        archive = await asyncio.to_thread(repo.download, picked, timeout)
        cached = await asyncio.to_thread(_store, base, picked.version, archive, chart)
    return FetchedChart(repo_url, chart, picked.version, cached, access)


def _pick(candidates: list[_Candidate], wanted: str, chart: str, repo_url: str) -> _Candidate:
    by_version = {c.version: c for c in candidates}
    try:
        version = chart_versions.pick_version(wanted, by_version)
    except chart_versions.InvalidRangeError as exc:
        raise SourceError(f"targetRevision of chart {chart}: {exc}") from None
    if version is None:
        offered = ", ".join(chart_versions.newest(by_version, 5)) or "none"
        raise SourceError(
            f"no version of chart {chart} matches {wanted!r} in {redact(repo_url)}"
            f" (newest: {offered})"
        )
    return by_version[version]


@dataclass(frozen=True)
class _Repository:
    """A Helm repository (``index``) or an OCI registry repository (``oci``)."""

    kind: str
    url: str  # index base URL, or registry base URL (scheme://host); no user info
    name: str  # OCI repository name (path/chart); the chart name for an index
    identity: str
    auth: chart_http.BasicAuth | None  # bound to the origin of ``url``

    @classmethod
    def parse(cls, repo_url: str, chart: str, plain_http: frozenset[str]) -> _Repository:
        identity = redact(repo_url.strip()).rstrip("/")
        try:
            parts = urllib.parse.urlsplit(repo_url.strip())
            parts.port  # noqa: B018 - raises ValueError for a bad or out-of-range port
        except ValueError:  # its message may quote part of the password: not shown
            raise SourceError(f"chart repository {identity!r} is not a valid URL") from None
        if parts.scheme == "oci":
            if not parts.hostname:
                raise SourceError(f"OCI chart repository {identity!r} names no registry host")
            host = parts.netloc.rpartition("@")[2]
            scheme = "http" if host in plain_http else "https"
            # The credential is registered for the registry the URL names.
            userinfo = parts.netloc.rpartition("@")[0]
            base, auth = chart_http.split_credentials(
                f"{scheme}://{userinfo + '@' if userinfo else ''}{host}"
            )
            path = "/".join(p for p in (parts.path.strip("/"), chart) if p)
            return cls("oci", base, path, identity, auth)
        if parts.scheme in ("http", "https") and parts.hostname:
            url, auth = chart_http.split_credentials(repo_url.strip().rstrip("/"))
            return cls("index", url, chart, identity, auth)
        raise SourceError(
            f"chart repository {identity!r} must be an https://, http:// or oci:// URL"
            " (file:// and local paths are refused)"
        )

    def cache_dir_name(self, access: str) -> str:
        """The cache directory of this repository *for this credential* (``access``)."""
        host = urllib.parse.urlsplit(self.identity).netloc or "repo"
        digest = hashlib.sha256(f"{self.identity}\0{access}".encode()).hexdigest()[:16]
        return f"{re.sub(r'[^A-Za-z0-9.]+', '-', host)}-{digest}"

    def candidates(self, timeout: float) -> list[_Candidate]:
        """Every version offered (blocking)."""
        return self._index_candidates(timeout) if self.kind == "index" else self._tags(timeout)

    def download(self, candidate: _Candidate, timeout: float) -> bytes:
        """The chart archive of ``candidate``, digest checked (blocking)."""
        what = f"chart {self.name} {candidate.version} from {self.identity}"
        digest = candidate.digest
        if self.kind == "index":
            url = candidate.locator
            chart_http.check_scheme(url, f"{what}: the index entry's URL")
        else:
            digest = self._layer_digest(candidate, timeout)
            url = f"{self.url}/v2/{self.name}/blobs/{digest}"
        body = chart_http.get(
            url, timeout=timeout, max_bytes=MAX_ARCHIVE_BYTES, what=what, auth=self.auth
        ).body
        if digest:
            actual = hashlib.sha256(body).hexdigest()
            if actual != digest.removeprefix("sha256:"):
                raise SourceError(f"{what}: archive digest sha256:{actual} does not match {digest}")
        return body

    def _index_candidates(self, timeout: float) -> list[_Candidate]:
        what = f"index of chart repository {self.identity}"
        body = chart_http.get(
            f"{self.url}/index.yaml",
            timeout=timeout,
            max_bytes=MAX_INDEX_BYTES,
            what=what,
            auth=self.auth,
        ).body
        index = parse_index(body, what)
        entries = index.get("entries") if isinstance(index, dict) else None
        if not isinstance(entries, dict):
            raise SourceError(f"{what}: no 'entries' (not a Helm repository index)")
        versions = entries.get(self.name)
        if not isinstance(versions, list) or not versions:
            raise SourceError(f"chart {self.name} not found in chart repository {self.identity}")
        return [c for item in versions if (c := self._index_entry(item)) is not None]

    def _index_entry(self, item: Any) -> _Candidate | None:
        if not isinstance(item, dict) or not isinstance(item.get("version"), str):
            return None
        urls = item.get("urls")
        if not isinstance(urls, list) or not urls or not isinstance(urls[0], str):
            return None
        # Archive URLs may be relative to the repository URL (always http(s)
        # here); an absolute one of another scheme is refused when downloaded.
        url = urllib.parse.urljoin(self.url + "/", urls[0].strip())
        digest = item.get("digest")
        return _Candidate(str(item["version"]), url, digest if isinstance(digest, str) else None)

    def _tags(self, timeout: float) -> list[_Candidate]:
        what = f"tags of {self.identity}/{self.name.rsplit('/', 1)[-1]}"
        url: str | None = f"{self.url}/v2/{self.name}/tags/list"
        tags: list[str] = []
        for _ in range(_MAX_TAG_PAGES):
            if url is None:
                break
            answer = chart_http.get(
                url, timeout=timeout, max_bytes=16 * 1024 * 1024, what=what, auth=self.auth
            )
            try:
                data = json.loads(answer.body)
            except ValueError:
                raise SourceError(f"{what}: the registry sent invalid JSON") from None
            tags.extend(t for t in (data.get("tags") or []) if isinstance(t, str))
            url = chart_http.next_link(answer.headers, url)
        # OCI tags cannot hold "+", so Helm pushes 1.0.0+build as 1.0.0_build.
        return [_Candidate(tag.replace("_", "+"), tag, None) for tag in tags]

    def _layer_digest(self, candidate: _Candidate, timeout: float) -> str:
        what = f"chart {self.name} {candidate.version} from {self.identity}"
        answer = chart_http.get(
            f"{self.url}/v2/{self.name}/manifests/{candidate.locator}",
            timeout=timeout,
            max_bytes=4 * 1024 * 1024,
            accept=OCI_MANIFEST,
            what=what,
            auth=self.auth,
        )
        try:
            manifest = json.loads(answer.body)
        except ValueError:
            raise SourceError(f"{what}: the registry sent an invalid manifest") from None
        for layer in manifest.get("layers") or []:
            if isinstance(layer, dict) and layer.get("mediaType") == HELM_CHART_LAYER:
                digest = layer.get("digest")
                if isinstance(digest, str) and re.match(r"^sha256:[0-9a-f]{64}$", digest):
                    return digest
        raise SourceError(f"{what}: the artifact is not a Helm chart (no chart layer)")


def parse_index(body: bytes, what: str) -> Any:
    """A repository's ``index.yaml``, parsed with the bounded parser of ``yaml_docs``.

    Depth, aliases and expanded size are limited before anything is built, so
    a hostile index can neither crash the controller nor balloon in memory.
    """
    try:
        text = body.decode("utf-8-sig")
        return yaml_docs.load_single(text, "index.yaml", limits=yaml_docs.INDEX_LIMITS)
    except UnicodeDecodeError:
        raise SourceError(f"{what}: not UTF-8 text") from None
    except RenderError as exc:
        raise SourceError(f"{what}: {exc.message}") from None


def _cached(base: Path, version: str) -> Path | None:
    if not _SAFE_VERSION.match(version):
        return None
    return _chart_dir(base / version)


def _chart_dir(entry: Path) -> Path | None:
    """The directory holding Chart.yaml inside an extracted archive."""
    src = entry / "src"
    if not src.is_dir():
        return None
    for child in sorted(src.iterdir()):
        if child.is_dir() and (child / "Chart.yaml").is_file():
            return child
    return None


def _store(base: Path, version: str, archive: bytes, chart: str) -> Path:
    """Extract ``archive`` into the cache entry for ``version``; return the chart dir."""
    if not _SAFE_VERSION.match(version):
        raise SourceError(f"chart {chart} has an unusable version string {version!r}")
    base.mkdir(parents=True, exist_ok=True)
    temp = base / f".tmp-{uuid.uuid4().hex}"
    try:
        (temp / "src").mkdir(parents=True)
        tgz = temp / "chart.tgz"
        tgz.write_bytes(archive)
        _extract(tgz, temp / "src", chart, version)
        if _chart_dir(temp) is None:
            raise SourceError(f"chart {chart} {version}: the archive holds no Chart.yaml")
        # Failing means a concurrent fetch stored it first; its copy is identical.
        with contextlib.suppress(OSError):
            temp.rename(base / version)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    found = _chart_dir(base / version)
    if found is None:
        raise SourceError(f"chart {chart} {version}: could not be stored in the chart cache")
    return found


def _extract(tgz: Path, target: Path, chart: str, version: str) -> None:
    try:
        with tarfile.open(tgz, "r:gz") as archive:
            members = _bounded_members(archive, chart, version)
            archive.extractall(target, members=members, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise SourceError(f"chart {chart} {version}: not a valid chart archive ({exc})") from None


def _bounded_members(archive: tarfile.TarFile, chart: str, version: str) -> list[tarfile.TarInfo]:
    """Every entry of ``archive``, read header by header and refused past the caps.

    ``getmembers()`` would read every header first: a small gzip of millions of
    empty entries would fill the controller's memory before any check ran.
    """
    members: list[tarfile.TarInfo] = []
    size = 0
    while (member := archive.next()) is not None:
        members.append(member)
        size += member.size
        if len(members) > MAX_ARCHIVE_MEMBERS:
            raise SourceError(
                f"chart {chart} {version}: archive has more than {MAX_ARCHIVE_MEMBERS} entries"
            )
        if size > MAX_EXTRACTED_BYTES:
            raise SourceError(f"chart {chart} {version}: archive expands beyond the limit")
    return members
