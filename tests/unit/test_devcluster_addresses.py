"""The address stand-in's kwok stages, and how a dev cluster switches it on or off."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from driftless.devcluster import addresses, kwok
from driftless.devcluster.cli import devcluster
from driftless.devcluster.cluster import DevCluster
from driftless.devcluster.errors import DevClusterError


def _docs() -> list[dict[str, Any]]:
    return list(yaml.safe_load_all(addresses.stages_yaml()))


def _keys(stage: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["key"]: m for m in stage["spec"]["selector"]["matchExpressions"]}


def test_the_stage_file_holds_kwok_stages_for_services_and_ingresses() -> None:
    docs = _docs()
    assert docs == addresses.stages()
    assert {d["kind"] for d in docs} == {"Stage"}
    assert len({d["metadata"]["name"] for d in docs}) == len(docs)
    refs = {(d["spec"]["resourceRef"]["apiGroup"], d["spec"]["resourceRef"]["kind"]) for d in docs}
    assert refs == {("v1", "Service"), ("networking.k8s.io/v1", "Ingress")}


def test_every_giving_stage_skips_objects_that_already_have_an_address() -> None:
    """An address someone else set is never overwritten, and nothing loops."""
    giving = [d for d in _docs() if "release" not in d["metadata"]["name"]]
    assert len(giving) == 4
    for stage in giving:
        keys = _keys(stage)
        assert keys[".status.loadBalancer.ingress"]["operator"] == "DoesNotExist"
        assert keys[".metadata.deletionTimestamp"]["operator"] == "DoesNotExist"
        assert addresses.LOOPBACK in stage["spec"]["next"]["statusTemplate"]


def test_the_release_stage_takes_back_only_its_own_address() -> None:
    (release,) = [d for d in _docs() if "release" in d["metadata"]["name"]]
    keys = _keys(release)
    assert keys[".spec.type"] == {
        "key": ".spec.type",
        "operator": "NotIn",
        "values": ["LoadBalancer"],
    }
    assert keys[".status.loadBalancer.ingress[]?.ip"]["values"] == [addresses.LOOPBACK]


def test_services_of_another_load_balancer_class_are_not_served() -> None:
    (service,) = [d for d in _docs() if d["metadata"]["name"] == "driftless-service-load-balancer"]
    keys = _keys(service)
    assert keys[".spec.type"]["values"] == ["LoadBalancer"]
    assert keys[".spec.loadBalancerClass"]["operator"] == "DoesNotExist"


def test_only_classless_ingresses_and_the_served_class_are_selected() -> None:
    ingress = [d for d in _docs() if d["spec"]["resourceRef"]["kind"] == "Ingress"]
    class_values = []
    for stage in ingress:
        for key, match in _keys(stage).items():
            if "ingressClassName" in key or "ingress.class" in key:
                class_values.append(match.get("values", match["operator"]))
    # Each stage either requires the served class or requires no class at all;
    # no stage accepts an arbitrary class such as nginx.
    for value in class_values:
        assert value in ([addresses.INGRESS_CLASS], "DoesNotExist")


def test_templates_read_only_schema_validated_fields() -> None:
    """Hostile objects cannot inject into the status patch: names, labels and
    annotations never reach a template, only port numbers and protocol enums."""
    read: set[str] = set()
    for stage in _docs():
        template = stage["spec"]["next"]["statusTemplate"]
        actions = re.findall(r"{{(.*?)}}", template)
        read |= {f for action in actions for f in re.findall(r"[$\w]*\.[\w.]+", action)}
    assert read == {".spec.ports", "$p.port", "$p.protocol"}


def test_the_ingress_class_is_not_the_default_class() -> None:
    """A default class would make the apiserver write spec.ingressClassName into
    classless Ingresses, a field git never had (a permanent diff)."""
    cls = addresses.ingress_class()
    assert cls["metadata"] == {"name": addresses.INGRESS_CLASS}
    assert cls["spec"] == {"controller": addresses.INGRESS_CONTROLLER}


def test_kwok_gets_one_config_flag_per_stage_file() -> None:
    argv = kwok.args(Path("kc"), Path("base.yaml"), Path("more.yaml"))
    assert [a for a in argv if a.startswith("--config=")] == [
        "--config=base.yaml",
        "--config=more.yaml",
    ]


@pytest.mark.parametrize("wanted", [True, False])
def test_the_stand_in_is_loaded_only_when_wanted(tmp_path: Path, wanted: bool) -> None:
    cluster = DevCluster("unit", state_dir=tmp_path, addresses=wanted, progress=lambda _: None)
    files = cluster._stages(Path("base.yaml"))
    extra = tmp_path / addresses.STAGES_FILE
    assert files == ([Path("base.yaml"), extra] if wanted else [Path("base.yaml")])
    assert extra.exists() is wanted


@pytest.mark.parametrize(("flags", "wanted"), [([], True), (["--no-addresses"], False)])
def test_cli_up_passes_the_addresses_choice(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, flags: list[str], wanted: bool
) -> None:
    seen: list[bool] = []

    def fake_up(self: DevCluster, **_: object) -> DevCluster:
        seen.append(self.addresses)
        raise DevClusterError("not starting in a unit test")

    monkeypatch.setattr(DevCluster, "up", fake_up)
    result = CliRunner().invoke(devcluster, ["up", "--state-dir", str(tmp_path), *flags])
    assert result.exit_code == 1
    assert seen == [wanted]
