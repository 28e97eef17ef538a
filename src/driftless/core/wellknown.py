"""Every annotation, label and finalizer name driftless reads or writes. Pure.

They are part of the public API: users write them in git or on their
Applications, scripts and other tools select by them, and objects in running
clusters carry them, so a name is never changed, only added. This is the one
module that spells a ``driftless.dev/...`` key or a ``*.driftless.dev``
finalizer (``tests/unit/test_vocabulary.py`` checks it); everything else
imports the name from here.
"""

from typing import Final

# ------------------------------------------------ on objects in git (users write)

# Integer wave of an object or hook, default 0; lower waves first.
SYNC_WAVE_ANNOTATION: Final = "driftless.dev/sync-wave"
# Comma-separated hook phases (``core.vocabulary.SyncPhase``) or ``Skip``.
HOOK_ANNOTATION: Final = "driftless.dev/hook"
# Comma-separated ``core.vocabulary.HookDeletePolicy`` values.
HOOK_DELETE_POLICY_ANNOTATION: Final = "driftless.dev/hook-delete-policy"
# Comma-separated ``core.vocabulary.ObjectOption`` items such as ``Prune=false``.
SYNC_OPTIONS_ANNOTATION: Final = "driftless.dev/sync-options"
# Comma-separated compare options; ``IgnoreExtraneous``: once git no longer has
# the object, its staying behind does not make the app OutOfSync.
COMPARE_OPTIONS_ANNOTATION: Final = "driftless.dev/compare-options"

# ------------------------------------------- on managed objects (driftless writes)

# ``<app-namespace>_<app>:<group>/<kind>:<namespace>/<name>`` (see ``core.resources``).
TRACKING_ANNOTATION: Final = "driftless.dev/tracking-id"
# On hooks written with ``metadata.generateName``: a digest of the hook's
# template (app and generateName), so the next sync finds the earlier runs
# that ``BeforeHookCreation`` deletes.
HOOK_TEMPLATE_LABEL: Final = "driftless.dev/hook-template"
# On a named hook as applied: the operation and phase that created it, so a
# pass whose record of the creation was lost finds it instead of re-creating it.
HOOK_OPERATION_ANNOTATION: Final = "driftless.dev/hook-operation"

# ------------------------------------------------------ on Applications (requests)

# Any new value asks the controller for an immediate re-check; ``hard`` (or a
# value starting ``hard:``) also bypasses its caches: the repository is asked
# for its refs now and the app is rendered again (see ``pipeline.requests``).
REFRESH_ANNOTATION: Final = "driftless.dev/refresh"
REFRESH_HARD: Final = "hard"
# The ``startedAt`` of the running operation to terminate at its next safe point.
TERMINATE_ANNOTATION: Final = "driftless.dev/terminate-operation"
# While present, deleting the Application deletes the objects it manages.
RESOURCES_FINALIZER: Final = "resources-finalizer.driftless.dev"

# ----------------------------------------------------------------- on Secrets

# Marks a Secret as driftless's: its value says which kind of credential it holds.
SECRET_TYPE_LABEL: Final = "driftless.dev/secret-type"
# Value of ``SECRET_TYPE_LABEL``: git/Helm repository credentials (``sources.credentials``).
REPOSITORY_SECRET_TYPE: Final = "repository"
# Value of ``SECRET_TYPE_LABEL``: a remote cluster's kubeconfig (``kube.clusters``).
CLUSTER_SECRET_TYPE: Final = "cluster"
# Value of ``SECRET_TYPE_LABEL``: the API tokens' keys and records (``pipeline.token_store``).
API_TOKENS_SECRET_TYPE: Final = "api-tokens"

# ------------------------------------------- on push mode's inventory ConfigMap

# The push-mode app (``driftless apply``) whose inventory the ConfigMap holds.
PUSH_APP_LABEL: Final = "driftless.dev/push-app"
# The revision that inventory was last written for.
INVENTORY_REVISION_ANNOTATION: Final = "driftless.dev/revision"

# ------------------------------------------- several controllers (controller.shards)

# On an Application: pin it to this shard number instead of its hash.
SHARD_LABEL: Final = "driftless.dev/shard"
# On the controllers' Leases: ``member`` or ``shard``.
LEASE_LABEL: Final = "driftless.dev/lease"
# On a member Lease: that replica's number of shards (replicas must agree).
SHARDS_LABEL: Final = "driftless.dev/shards"

# ------------------------------------------------- written by other tools (read)

# kubectl's copy of what ``kubectl apply`` last sent: a second spec, never shown
# or compared (``diff.normalize`` and the server drop it).
KUBECTL_LAST_APPLIED_ANNOTATION: Final = "kubectl.kubernetes.io/last-applied-configuration"

# Argo CD's names for what the ``driftless.dev/*`` annotations above say
# (``core.argocd`` maps them; driftless's own win when both are present).
ARGOCD_HOOK_ANNOTATION: Final = "argocd.argoproj.io/hook"
ARGOCD_HOOK_DELETE_POLICY_ANNOTATION: Final = "argocd.argoproj.io/hook-delete-policy"
ARGOCD_SYNC_WAVE_ANNOTATION: Final = "argocd.argoproj.io/sync-wave"
ARGOCD_SYNC_OPTIONS_ANNOTATION: Final = "argocd.argoproj.io/sync-options"
ARGOCD_COMPARE_OPTIONS_ANNOTATION: Final = "argocd.argoproj.io/compare-options"
