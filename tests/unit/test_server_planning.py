"""The pure parts of the server's on-demand planning: result keys, the bounded
coalescing cache, masking of rendered manifests, what a Planning refuses, and
how a failed plan is answered."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from driftless.core.errors import (
    DriftlessError,
    RenderError,
    SourceError,
    SourceUnavailableError,
    TransientError,
)
from driftless.core.models import Application
from driftless.core.resources import Manifest
from driftless.kube.errors import (
    KubeApiError,
    KubeForbiddenError,
    KubeInvalidError,
    KubeUnavailableError,
)
from driftless.pipeline.renderers import Rendered
from driftless.pipeline.requests import InvalidRequestError
from driftless.render import RenderTools
from driftless.server.errors import ApiError, UnavailableError
from driftless.server.planning import (
    Leases,
    Planning,
    Refusals,
    Results,
    masked,
    refused_by_rbac,
    result_key,
)
from driftless.server.routes_diff import refusal
from driftless.sources.git import GitCache
from tests.fixtures.server_http import unreachable_client

SECRET_VALUE = "planning-hunter2"


def app(uid: str = "u-1", version: str = "7") -> Application:
    return Application.model_validate(
        {
            "apiVersion": "driftless.dev/v1alpha1",
            "kind": "Application",
            "metadata": {
                "name": "web",
                "namespace": "team",
                "uid": uid,
                "resourceVersion": version,
            },
            "spec": {
                "source": {"repoURL": "https://git.example.com/web.git", "path": "app"},
                "destination": {"namespace": "web"},
            },
        }
    )


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Counted:
    """A compute that counts its runs and, when ``gate`` is given, waits for it."""

    def __init__(self, gate: asyncio.Event | None = None) -> None:
        self.runs = 0
        self.running = 0
        self.most = 0
        self.gate = gate

    def of(self, value: str) -> Callable[[], Awaitable[str]]:
        async def compute() -> str:
            self.runs += 1
            self.running += 1
            self.most = max(self.most, self.running)
            try:
                if self.gate is not None:
                    await self.gate.wait()
                return value
            finally:
                self.running -= 1

        return compute


def test_a_result_depends_on_the_app_its_version_and_the_revision() -> None:
    base = result_key("diff", app(), None)
    assert base == result_key("diff", app(), "")  # the target, said two ways
    assert base != result_key("manifests", app(), None)
    assert base != result_key("diff", app(version="8"), None)  # the controller wrote its status
    assert base != result_key("diff", app(uid="u-2"), None)  # deleted and re-created
    assert base != result_key("diff", app(), "v1.0")


async def test_identical_requests_made_meanwhile_share_one_computation() -> None:
    gate = asyncio.Event()
    counted = Counted(gate)
    results: Results[str, str] = Results()
    waiting = [asyncio.create_task(results.get("k", counted.of("plan"))) for _ in range(5)]
    await asyncio.sleep(0.01)
    gate.set()
    assert await asyncio.gather(*waiting) == ["plan"] * 5
    assert counted.runs == 1


async def test_the_queue_is_bounded_in_all_and_per_identity_but_joining_is_free() -> None:
    gate = asyncio.Event()
    counted = Counted(gate)
    results: Results[str, str] = Results(concurrency=1, queued=5, per_owner=2)
    started = [
        asyncio.create_task(results.get(f"m{i}", counted.of("m"), "mallory")) for i in (1, 2)
    ]
    await asyncio.sleep(0.01)
    with pytest.raises(UnavailableError, match="you have 2 plans"):
        await results.get("m3", counted.of("m"), "mallory")  # a third revision of hers
    # Another identity asking for one of hers shares it: nothing new to bound.
    started.append(asyncio.create_task(results.get("m1", counted.of("never"), "alice")))
    started += [
        asyncio.create_task(results.get(f"o{i}", counted.of("o"), f"u{i}")) for i in (1, 2, 3)
    ]
    await asyncio.sleep(0.01)
    with pytest.raises(UnavailableError, match="5 plans are running or waiting") as caught:
        await results.get("o4", counted.of("o"), "u4")
    assert caught.value.status == 503
    gate.set()
    assert await asyncio.gather(*started) == ["m", "m", "m", "o", "o", "o"]
    assert await results.get("m3", counted.of("m"), "mallory") == "m"  # room again
    assert counted.runs == 6


async def test_at_most_concurrency_computations_run_at_once() -> None:
    gate = asyncio.Event()
    counted = Counted(gate)
    results: Results[str, str] = Results(concurrency=2)
    waiting = [asyncio.create_task(results.get(f"k{i}", counted.of(str(i)))) for i in range(5)]
    await asyncio.sleep(0.01)
    assert counted.running == 2
    gate.set()
    assert await asyncio.gather(*waiting) == ["0", "1", "2", "3", "4"]
    assert counted.most == 2


async def test_a_result_is_kept_for_seconds_then_computed_again() -> None:
    clock = Clock()
    counted = Counted()
    results: Results[str, str] = Results(seconds=15.0, clock=clock)
    assert await results.get("k", counted.of("first")) == "first"
    clock.now += 14.0
    assert await results.get("k", counted.of("second")) == "first"
    clock.now += 1.0
    assert await results.get("k", counted.of("second")) == "second"
    assert counted.runs == 2


async def test_the_least_recently_used_result_is_dropped_beyond_entries() -> None:
    counted = Counted()
    results: Results[str, str] = Results(entries=2)
    await results.get("a", counted.of("a"))
    await results.get("b", counted.of("b"))
    await results.get("a", counted.of("a"))  # a is now the most recently used
    await results.get("c", counted.of("c"))  # b goes
    assert len(results) == 2
    assert counted.runs == 3
    await results.get("a", counted.of("a"))
    assert counted.runs == 3
    await results.get("b", counted.of("b"))
    assert counted.runs == 4


async def test_a_failure_reaches_every_waiter_and_is_not_kept() -> None:
    gate = asyncio.Event()
    runs = 0

    async def failing() -> str:
        nonlocal runs
        runs += 1
        await gate.wait()
        raise RuntimeError("repository unreachable")

    results: Results[str, str] = Results()
    waiting = [asyncio.create_task(results.get("k", failing)) for _ in range(3)]
    await asyncio.sleep(0.01)
    gate.set()
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert [str(o) for o in outcomes] == ["repository unreachable"] * 3
    assert len(results) == 0
    with pytest.raises(RuntimeError):
        await results.get("k", failing)
    assert runs == 2


async def test_a_caller_that_goes_away_does_not_cancel_what_others_wait_for() -> None:
    gate = asyncio.Event()
    counted = Counted(gate)
    results: Results[str, str] = Results()
    leaving = asyncio.create_task(results.get("k", counted.of("plan")))
    staying = asyncio.create_task(results.get("k", counted.of("plan")))
    await asyncio.sleep(0.01)
    leaving.cancel()
    gate.set()
    assert await staying == "plan"
    assert leaving.cancelled()
    assert counted.runs == 1


def test_rendered_secrets_are_masked_and_other_objects_kept() -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds"},
        "stringData": {"password": SECRET_VALUE},
        "data": {"token": "aHVudGVyMg=="},
    }
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"k": "v"},
    }
    shown = masked(Rendered("abc123", [Manifest(secret), Manifest(config)]))
    assert shown.revision == "abc123"
    assert SECRET_VALUE not in repr(shown) and "aHVudGVyMg==" not in repr(shown)
    assert shown.manifests[0]["stringData"] == {"password": "<added>"}
    assert shown.manifests[0]["data"] == {"token": "<added>"}
    assert shown.manifests[1] == config
    assert secret["stringData"] == {"password": SECRET_VALUE}  # the render itself is untouched


async def test_a_planning_never_reads_local_repositories(tmp_path: Path) -> None:
    client = unreachable_client()
    try:
        with pytest.raises(ValueError, match="local repositories"):
            Planning(client, GitCache(tmp_path, allow_local=True), RenderTools())
    finally:
        await client.close()


REFUSALS = [
    (InvalidRequestError("revision", "'--x': invalid"), 422, "Invalid", "revision: '--x': invalid"),
    (
        SourceError("revision nope not found in https://u:pw@git.example.com/r.git"),
        422,
        "Invalid",
        "application team/web cannot be planned: revision nope not found in"
        " https://git.example.com/r.git",
    ),
    (
        RenderError("not a Kubernetes object", file="app/x.yaml", line=3),
        422,
        "Invalid",
        "application team/web cannot be planned: app/x.yaml:3: not a Kubernetes object",
    ),
    (
        SourceUnavailableError("cannot reach https://u:pw@git.example.com/r.git"),
        502,
        "Unavailable",
        "application team/web cannot be planned now: cannot reach https://git.example.com/r.git",
    ),
    (
        TransientError("render exceeded the 3 s time limit"),
        502,
        "Unavailable",
        "application team/web cannot be planned now: render exceeded the 3 s time limit",
    ),
]


@pytest.mark.parametrize(("error", "status", "code", "message"), REFUSALS)
def test_a_failed_plan_is_answered_with_the_controller_s_message_redacted(
    error: DriftlessError, status: int, code: str, message: str
) -> None:
    answer = refusal(error, "team/web")
    assert isinstance(answer, ApiError)
    assert (answer.status, str(answer.code), answer.message) == (status, code, message)


def test_an_api_server_outage_keeps_its_own_answer() -> None:
    outage = KubeUnavailableError(503, "the API server is down")
    assert refusal(outage, "team/web") is outage  # errors.install: 503, never its text


def test_a_replaced_remote_client_is_released_once_no_plan_uses_it() -> None:
    leases: Leases[str] = Leases()
    key = ("team", "https://remote.example:6443")
    leases.take(key, "old")
    leases.take(key, "old")
    assert leases.give_back("old") == []  # still the current client
    leases.take(key, "new")  # the cluster's Secret changed: a new client
    assert leases.give_back("new") == []  # the old one is still in a plan
    leases.take(key, "new")
    assert leases.give_back("old") == ["old"]  # its last plan ended
    assert leases.give_back("new") == []
    leases.take(("other-team", key[1]), "theirs")  # another namespace: not a replacement
    assert leases.give_back("theirs") == []


RBAC_PATCH = (
    'dry-run of Deployment demo/web (web.yaml) failed: deployments.apps "web" is forbidden: '
    'User "system:serviceaccount:driftless:driftless-server" cannot patch resource '
    '"deployments" in API group "apps" in the namespace "demo"'
)
RBAC_READ = (
    'secrets "s" is forbidden: User "system:serviceaccount:d:driftless-server" cannot get '
    'resource "secrets" in API group "" in the namespace "demo"'
)

# A Secret's refusal as ``sync.redact`` leaves it (every quoted value redacted).
RBAC_SECRET = (
    "dry-run of Secret demo/s (secret.yaml:1) failed: secrets <redacted> is forbidden: User "
    "<redacted> cannot get resource <redacted> in API group <redacted> in the namespace <redacted>"
)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        pytest.param(KubeForbiddenError(403, RBAC_PATCH, "Forbidden"), True, id="rbac-patch"),
        pytest.param(KubeForbiddenError(403, RBAC_READ, "Forbidden"), True, id="rbac-read"),
        pytest.param(KubeForbiddenError(403, RBAC_SECRET), True, id="rbac-secret-redacted"),
        pytest.param(
            KubeForbiddenError(403, 'admission webhook "policy.example" denied the request: no'),
            False,
            id="webhook",
        ),
        pytest.param(
            KubeForbiddenError(403, 'pods "p" is forbidden: exceeded quota: q, requested: 1'),
            False,
            id="quota",
        ),
        pytest.param(
            KubeForbiddenError(
                403, "unable to create new content in namespace x because it is being terminated"
            ),
            False,
            id="terminating",
        ),
        pytest.param(KubeInvalidError(422, RBAC_PATCH), False, id="not-a-403"),
    ],
)
def test_only_the_authorizer_s_refusal_makes_diffs_client_side(
    error: KubeApiError, expected: bool
) -> None:
    assert refused_by_rbac(error) is expected


def test_a_refused_destination_is_remembered_for_a_while_then_tried_again() -> None:
    clock = Clock()
    refusals = Refusals(seconds=300, clock=clock)
    assert not refusals.refuses("https://kubernetes.default.svc")
    refusals.remember("https://kubernetes.default.svc")
    clock.now += 299
    assert refusals.refuses("https://kubernetes.default.svc")
    assert not refusals.refuses("https://other.example:6443")
    clock.now += 1
    assert not refusals.refuses("https://kubernetes.default.svc")  # RBAC may have changed
    assert not refusals.refuses("https://kubernetes.default.svc")
