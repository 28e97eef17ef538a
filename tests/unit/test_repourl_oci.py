"""OCI chart sources and Project ``sourceRepos`` (``core.repourl`` + ``core.project``).

An ``oci://`` chart registry is matched against allow-lists exactly like an
https URL (normalized, scheme, host and path compared on their own), so an
admin can allow ``oci://ghcr.io/myorg/*`` without ``*``; git never fetches it.
"""

from __future__ import annotations

import pytest

from driftless.core.errors import SourceError
from driftless.core.project import Project, ProjectViolationError, check_source
from driftless.core.repourl import parse_repo_url


def project(*patterns: str) -> Project:
    return Project.model_validate({"metadata": {"name": "p"}, "spec": {"sourceRepos": patterns}})


@pytest.mark.parametrize(
    "url",
    [
        "oci://ghcr.io/myorg/charts",
        "OCI://GHCR.IO/myorg/charts/",
        "oci://ghcr.io:443/myorg/charts",
        "oci://ghcr.io/myorg/./charts",
    ],
)
def test_an_oci_glob_allows_its_registry_path(url: str) -> None:
    check_source(project("oci://ghcr.io/myorg/*"), url)


@pytest.mark.parametrize(
    "url",
    [
        "oci://ghcr.io/evil/charts",
        "oci://ghcr.io/myorg/../evil/charts",
        "oci://ghcr.io/myorg/%2e%2e/evil/charts",
        "oci://ghcr.io.evil.test/myorg/charts",
        "oci://evil.test/ghcr.io/myorg/charts",
        "oci://ghcr.io:8443/myorg/charts",
        "https://ghcr.io/myorg/charts",
    ],
)
def test_an_oci_glob_refuses_other_places(url: str) -> None:
    with pytest.raises(ProjectViolationError, match="not permitted"):
        check_source(project("oci://ghcr.io/myorg/*"), url)


def test_an_https_glob_does_not_allow_oci_and_helm_https_repos_still_match() -> None:
    with pytest.raises(ProjectViolationError):
        check_source(project("https://ghcr.io/myorg/*"), "oci://ghcr.io/myorg/charts")
    check_source(project("https://charts.example.com/*"), "https://charts.example.com/stable")
    check_source(project("https://charts.example.com"), "https://charts.example.com/")


def test_git_never_fetches_an_oci_url() -> None:
    with pytest.raises(SourceError, match="oci"):
        parse_repo_url("oci://ghcr.io/myorg/charts").check_fetchable()


def test_no_credential_in_an_oci_url_reaches_the_violation_message() -> None:
    with pytest.raises(ProjectViolationError) as caught:
        check_source(project("oci://ghcr.io/myorg/*"), "oci://user:s3cret@ghcr.io/evil/c")
    assert "s3cret" not in str(caught.value)
