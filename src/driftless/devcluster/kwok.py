"""kwok specifics: its stage configuration and the fake Nodes it manages.

kwok does nothing without *stages* (rules such as "a scheduled Pod becomes
Running and Ready"). ``kwokctl`` embeds the defaults; the plain ``kwok`` binary
must be given them with ``--config``. We take them from the very kwok module
release the binary is built from (so they always match) and keep them next to
the binary as ``kwok-stages-<version>.yaml``.

Nodes are created by driftless, not by kwok; kwok only manages Nodes that
carry :data:`NODE_ANNOTATION`, and the heartbeat-with-lease stage keeps their
Leases fresh so the node lifecycle controller never marks them NotReady.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

#: kwok manages only Nodes with this annotation (passed as its selector flag).
NODE_ANNOTATION: Final = "kwok.x-k8s.io/node"
NODE_ANNOTATION_VALUE: Final = "fake"

#: The default stages, as kwokctl picks them: fast node start, heartbeat through
#: Leases, and the fast Pod lifecycle (ready, complete, delete).
STAGE_FILES: Final[tuple[str, ...]] = (
    "kustomize/stage/node/fast/node-initialize.yaml",
    "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "kustomize/stage/pod/fast/pod-ready.yaml",
    "kustomize/stage/pod/fast/pod-complete.yaml",
    "kustomize/stage/pod/fast/pod-delete.yaml",
)


def stages_filename(version: str) -> str:
    """Cache file name of the stage config that goes with kwok ``version``."""
    return f"kwok-stages-{version}.yaml"


def collect_stages(module_dir: Path) -> str:
    """The stage documents from kwok's module source, as one multi-document YAML."""
    documents = [(module_dir / rel).read_text().strip() for rel in STAGE_FILES]
    return "\n---\n".join(documents) + "\n"


def fake_node(name: str) -> dict[str, Any]:
    """A Node object that kwok will take over and report Ready.

    Capacity is generous so the scheduler never refuses a test Pod for resources.
    """
    resources = {"cpu": "32", "memory": "256Gi", "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {NODE_ANNOTATION: NODE_ANNOTATION_VALUE},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
        },
        "spec": {},
        "status": {"allocatable": resources, "capacity": dict(resources)},
    }


def args(kubeconfig: Path, stages: Path, *more_stages: Path) -> list[str]:
    """Command-line arguments of kwok for a dev cluster (binary path excluded).

    ``more_stages`` are further stage files (kwok reads every ``--config``),
    such as the address stand-in's (see ``addresses``).
    """
    return [
        f"--kubeconfig={kubeconfig}",
        f"--config={stages}",
        *(f"--config={extra}" for extra in more_stages),
        "--manage-all-nodes=false",
        f"--manage-nodes-with-annotation-selector={NODE_ANNOTATION}={NODE_ANNOTATION_VALUE}",
        "--node-lease-duration-seconds=40",
        "--cidr=10.244.0.0/16",
    ]
