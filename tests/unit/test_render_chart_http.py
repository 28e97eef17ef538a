"""Pure helpers of the chart downloader: redaction, bearer challenges, pagination links."""

from __future__ import annotations

from email.message import Message

import pytest

from driftless.render.chart_http import next_link, parse_challenge, redact


@pytest.mark.parametrize(
    "url,shown",
    [
        ("https://user:tok@charts.example.com/x", "https://charts.example.com/x"),
        ("https://tok@charts.example.com:8443/x", "https://charts.example.com:8443/x"),
        ("https://charts.example.com/x", "https://charts.example.com/x"),
    ],
)
def test_redact(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_parse_bearer_challenge() -> None:
    header = (
        'Bearer realm="https://auth.example.com/token",service="registry.example.com",'
        'scope="repository:charts/demo:pull"'
    )
    assert parse_challenge(header) == {
        "realm": "https://auth.example.com/token",
        "service": "registry.example.com",
        "scope": "repository:charts/demo:pull",
    }
    assert parse_challenge('Basic realm="x"') is None


def test_next_link() -> None:
    headers = Message()
    headers["Link"] = '</v2/charts/demo/tags/list?last=1.2.0&n=100>; rel="next"'
    assert next_link(headers, "http://127.0.0.1:5000/v2/charts/demo/tags/list") == (
        "http://127.0.0.1:5000/v2/charts/demo/tags/list?last=1.2.0&n=100"
    )
    assert next_link(Message(), "http://x/") is None
