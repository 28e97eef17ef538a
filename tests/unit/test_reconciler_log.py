"""How a failed pass is logged (``controller.reconciler._logged``).

``controller.repeats`` collapses equal lines: an API server that does not
answer must give one text for every app, whatever request each was making;
any other failure keeps its whole message.
"""

from __future__ import annotations

from driftless.controller.reconciler import _logged
from driftless.core.errors import SourceError
from driftless.kube.errors import api_error, unavailable

DOWN = "cannot reach the API server at https://127.0.0.1:6443: Connection refused"


def test_an_unreachable_api_server_is_one_text_for_every_app() -> None:
    first = unavailable(DOWN).in_context("cannot read namespace team-a-web")
    second = unavailable(DOWN).in_context("cannot read project default")
    assert _logged(first) == _logged(second)
    assert _logged(first).endswith(DOWN)
    assert "team-a-web" not in _logged(first)


def test_other_failures_keep_their_context() -> None:
    refused = api_error(404, None, "Not Found").in_context("cannot read namespace team-a-web")
    assert "cannot read namespace team-a-web: Not Found" in _logged(refused)
    source = SourceError("revision v9 not found in https://example.com/r.git")
    assert _logged(source).endswith("revision v9 not found in https://example.com/r.git")
