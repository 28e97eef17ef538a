"""The pinned versions of every binary driftless builds, in one table.

Each :class:`Component` names one executable, the Go module and version it is
built from, and the recipe that builds it (see ``gobuild``). Bumping a version
here is the whole upgrade: the cache key is ``<name>-<version>``, so a new
version is built on the next run and the old file is simply no longer used.
A component built from a main of driftless's own (``Recipe.SOURCE``) also has
the digest of that source in its key, so editing the source rebuilds it.

Invariants:
  * component names are unique and are the executable names users know;
  * every version is a released tag (``vX.Y.Z``), never a branch or a pseudo-version,
    so a build is reproducible from the Go module proxy alone.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final


class Recipe(enum.Enum):
    """How a component's main package is turned into a binary."""

    #: ``k8s.io/kubernetes``: its go.mod maps staging modules to local paths, so a
    #: wrapper module replaces each of them with its published ``v0.Y.Z`` release.
    KUBERNETES = "kubernetes"
    #: A wrapper module that requires ``module`` and builds ``package`` from it; this
    #: ignores the dependency's own ``replace`` lines, which ``go install`` refuses.
    WRAPPER = "wrapper"
    #: A wrapper module whose ``main`` is driftless's own (``source``, under
    #: ``devcluster/``), importing packages of ``module``.
    SOURCE = "source"
    #: ``module``'s own source (a writable copy of its module zip) built with its own
    #: go.mod, so its ``replace`` lines hold (Gitea replaces several dependencies with
    #: forks, which a wrapper module would silently drop).
    MODULE = "module"


@dataclass(frozen=True)
class Component:
    """One executable at one pinned version."""

    name: str
    version: str
    module: str
    package: str
    recipe: Recipe
    #: A Go string variable (``importpath.name``) set to ``version`` at link time, for
    #: tools whose ``version`` command would otherwise print a placeholder.
    version_var: str | None = None
    #: ``Recipe.SOURCE``: the main's path under ``devcluster/`` and the first 12 hex
    #: digits of its SHA-256 (a unit test checks they agree).
    source: str | None = None
    source_digest: str | None = None
    #: Go build tags, and whether cgo is on (off for every component but Gitea, whose
    #: SQLite driver is mattn/go-sqlite3).
    tags: tuple[str, ...] = ()
    cgo: bool = False
    #: Directories of the module's source the binary reads at run time, installed
    #: next to it as ``<filename>.assets/`` (Gitea's locales and templates).
    assets: tuple[str, ...] = ()

    @property
    def filename(self) -> str:
        """The cache file name, ``<name>-<version>[-<source digest>]``; unique per build input."""
        suffix = f"-{self.source_digest}" if self.source_digest else ""
        return f"{self.name}-{self.version}{suffix}"


KUBERNETES_VERSION: Final = "v1.36.3"
ETCD_VERSION: Final = "v3.6.16"
KWOK_VERSION: Final = "v0.8.0"
# v5.8.3 needs go >= 1.27; v5.8.2 is the newest release that builds with Go 1.26.
KUSTOMIZE_VERSION: Final = "v5.8.2"
HELM_VERSION: Final = "v3.22.0"


def _kubernetes(name: str) -> Component:
    return Component(
        name=name,
        version=KUBERNETES_VERSION,
        module="k8s.io/kubernetes",
        package=f"k8s.io/kubernetes/cmd/{name}",
        recipe=Recipe.KUBERNETES,
    )


KUBE_APISERVER: Final = _kubernetes("kube-apiserver")
KUBE_CONTROLLER_MANAGER: Final = _kubernetes("kube-controller-manager")
KUBE_SCHEDULER: Final = _kubernetes("kube-scheduler")
KUBECTL: Final = _kubernetes("kubectl")
ETCD: Final = Component(
    name="etcd",
    version=ETCD_VERSION,
    module="go.etcd.io/etcd/server/v3",
    # The server module's root package is etcd's own ``main`` (it calls etcdmain.Main).
    package="go.etcd.io/etcd/server/v3",
    recipe=Recipe.WRAPPER,
)
KWOK: Final = Component(
    name="kwok",
    version=KWOK_VERSION,
    module="sigs.k8s.io/kwok",
    package="sigs.k8s.io/kwok/cmd/kwok",
    recipe=Recipe.WRAPPER,
)
KUSTOMIZE: Final = Component(
    name="kustomize",
    version=KUSTOMIZE_VERSION,
    module="sigs.k8s.io/kustomize/kustomize/v5",
    package="sigs.k8s.io/kustomize/kustomize/v5",
    recipe=Recipe.WRAPPER,
)
HELM: Final = Component(
    name="helm",
    version=HELM_VERSION,
    module="helm.sh/helm/v3",
    package="helm.sh/helm/v3/cmd/helm",
    recipe=Recipe.WRAPPER,
    version_var="helm.sh/helm/v3/internal/version.version",
)

# distribution's registry: the OCI registry the Helm/OCI chart tests push to (in-memory storage).
REGISTRY_VERSION: Final = "v3.1.2"
REGISTRY: Final = Component(
    name="registry",
    version=REGISTRY_VERSION,
    module="github.com/distribution/distribution/v3",
    package="github.com/distribution/distribution/v3/cmd/registry",
    recipe=Recipe.WRAPPER,
)

# The OpenID Connect provider the SSO tests log in through: zitadel/oidc (an
# OpenID-certified Go library) with its example login page, users/groups from a file.
# Dex, the provider the design names, is not buildable from the module proxy here
# (it serves github.com/dexidp/dex only up to v2.13.0+incompatible, from 2018).
OIDC_PROVIDER_VERSION: Final = "v3.52.0"
OIDC_PROVIDER: Final = Component(
    name="oidc-provider",
    version=OIDC_PROVIDER_VERSION,
    module="github.com/zitadel/oidc/v3",
    package=".",
    recipe=Recipe.SOURCE,
    source="oidcprovider/main.go",
    source_digest="6ffa3a634b62",
)

# The forge of the webhook and commit-status tests. Built only when a test asks for it
# (binaries.ensure), never by ``devcluster build``: minutes of CPU for a few tests.
GITEA_VERSION: Final = "v1.26.0"
GITEA: Final = Component(
    name="gitea",
    version=GITEA_VERSION,
    module="code.gitea.io/gitea",
    package=".",
    recipe=Recipe.MODULE,
    version_var="main.Version",
    tags=("sqlite", "sqlite_unlock_notify"),
    cgo=True,
    # Without the ``bindata`` tag (which needs the npm-built frontend) Gitea reads
    # these from STATIC_ROOT_PATH; the API and webhooks need no frontend.
    assets=("options", "templates", "public"),
)

# SOPS: decrypts the SOPS-encrypted documents of a repository after the render
# (``pipeline.decryption``); needed at run time like helm, so ``devcluster build`` builds it.
SOPS_VERSION: Final = "v3.13.3"
SOPS: Final = Component(
    name="sops",
    version=SOPS_VERSION,
    module="github.com/getsops/sops/v3",
    package="github.com/getsops/sops/v3/cmd/sops",
    recipe=Recipe.WRAPPER,
)
# age-keygen: makes the age keys the SOPS tests encrypt to. Tests only, so on demand.
AGE_VERSION: Final = "v1.3.1"
AGE_KEYGEN: Final = Component(
    name="age-keygen",
    version=AGE_VERSION,
    module="filippo.io/age",
    package="filippo.io/age/cmd/age-keygen",
    recipe=Recipe.WRAPPER,
    version_var="main.Version",
)

#: Every component, in build order (the control plane first: it is what ``up`` needs).
ALL: Final[tuple[Component, ...]] = (
    ETCD,
    KUBE_APISERVER,
    KUBE_CONTROLLER_MANAGER,
    KUBE_SCHEDULER,
    KWOK,
    KUBECTL,
    KUSTOMIZE,
    HELM,
    REGISTRY,
    OIDC_PROVIDER,
    SOPS,
)
#: What ``DevCluster.up()`` runs.
CONTROL_PLANE: Final[tuple[Component, ...]] = (
    ETCD,
    KUBE_APISERVER,
    KUBE_CONTROLLER_MANAGER,
    KUBE_SCHEDULER,
    KWOK,
)
#: The client tools other packages (render, tests, bench) call.
TOOLS: Final[tuple[Component, ...]] = (KUBECTL, KUSTOMIZE, HELM)

#: Built on demand only (a test fixture calls ``binaries.ensure``), not by ``devcluster build``.
ON_DEMAND: Final[tuple[Component, ...]] = (GITEA, AGE_KEYGEN)

BY_NAME: Final[dict[str, Component]] = {c.name: c for c in (*ALL, *ON_DEMAND)}
