"""The ``Application`` resource: its spec and status as pydantic models.

These models are the single definition of the API: the controller parses and
writes objects through them and ``core.crd`` generates the CRD's structural
OpenAPI schema from them, so the two cannot drift apart. Field names are the
camelCase names users write in YAML; Python code uses the snake_case names.

Invariants:
* parsing never fails on fields added by a newer version (``extra="ignore"``),
* every optional field has a default, so a minimal manifest is valid,
* ``Field(description=...)`` texts end up in ``kubectl explain``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from driftless.core import names
from driftless.core.vocabulary import HookPhase, ResultCode, SyncPhase

GROUP = "driftless.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
APPLICATION_KIND = "Application"

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
DURATION_PATTERN = r"^([0-9]+h)?([0-9]+m)?([0-9]+s)?$"


def parse_duration(text: str) -> timedelta:
    """Parse a Go-style duration made of hours, minutes and seconds (``1h30m``, ``45s``)."""
    match = _DURATION.match(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"invalid duration {text!r}: use e.g. 30s, 3m, 1h30m")
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


class ApiModel(BaseModel):
    """Base of every API model: camelCase aliases, unknown fields ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=False
    )

    def to_api(self) -> dict[str, Any]:
        """The JSON body for the API server: camelCase, no unset/None fields."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


# --------------------------------------------------------------------- spec


_Namespace = Annotated[str, Field(pattern=names.NAMESPACE_PATTERN, max_length=names.NAMESPACE_MAX)]
_NamePrefix = Annotated[
    str, Field(pattern=names.NAME_PREFIX_PATTERN, max_length=names.NAME_AFFIX_MAX)
]
_NameSuffix = Annotated[
    str, Field(pattern=names.NAME_SUFFIX_PATTERN, max_length=names.NAME_AFFIX_MAX)
]
_Image = Annotated[str, Field(pattern=names.IMAGE_PATTERN, max_length=names.IMAGE_MAX)]
_LabelValue = Annotated[
    str, Field(pattern=names.LABEL_VALUE_PATTERN, max_length=names.LABEL_VALUE_MAX)
]


class DirectorySource(ApiModel):
    """Options for a plain directory of YAML/JSON manifests."""

    recurse: bool = Field(False, description="Also read manifests in subdirectories.")
    include: str | None = Field(
        None, description="Glob of files to read, e.g. '*.yaml' or '{a.yaml,b.yaml}'."
    )
    exclude: str | None = Field(None, description="Glob of files to skip.")


class KustomizeSource(ApiModel):
    """Overrides applied on top of the kustomization at ``path``."""

    name_prefix: _NamePrefix | None = Field(
        None, description="Prefix added to every object's name."
    )
    name_suffix: _NameSuffix | None = Field(
        None, description="Suffix added to every object's name."
    )
    namespace: _Namespace | None = Field(
        None, description="Namespace set on every namespaced object."
    )
    images: list[_Image] = Field(
        default_factory=list,
        description="Image overrides like `kustomize edit set image`: name=newName:tag, name:tag.",
    )
    common_labels: dict[str, _LabelValue] = Field(default_factory=dict, description="Labels added.")
    common_annotations: dict[str, str] = Field(
        default_factory=dict, description="Annotations added."
    )

    components: list[str] = Field(
        default_factory=list, description="Extra components (paths inside the repository)."
    )

    @field_validator("common_labels", "common_annotations")
    @classmethod
    def _valid_keys(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            problem = names.label_key_problem(key)
            if problem:
                raise ValueError(f"key {key[:60]!r}: {problem}")
        return value


class HelmParameter(ApiModel):
    """One ``--set`` value."""

    name: Annotated[str, Field(pattern=names.SET_NAME_PATTERN, max_length=names.SET_NAME_MAX)] = (
        Field(description="Value path such as image.tag (no '=', ',' or spaces).")
    )
    value: str
    force_string: bool = Field(False, description="Use --set-string instead of --set.")


class HelmSource(ApiModel):
    """Options for a Helm chart (in the repository, or from a Helm/OCI repository)."""

    release_name: (
        Annotated[str, Field(pattern=names.RELEASE_NAME_PATTERN, max_length=names.RELEASE_NAME_MAX)]
        | None
    ) = Field(None, description="Release name (DNS-1123, at most 53); default the app name.")
    namespace: _Namespace | None = Field(
        None, description="Release namespace; default the destination namespace."
    )
    value_files: list[
        Annotated[str, Field(pattern=names.VALUE_FILE_PATTERN, max_length=names.PATH_MAX)]
    ] = Field(
        default_factory=list,
        description="Values files, relative to the chart directory, inside the repository.",
    )
    values: str | None = Field(None, description="Inline values, as a YAML document.")
    parameters: list[HelmParameter] = Field(default_factory=list, description="--set values.")
    skip_crds: bool = Field(False, description="Do not render the chart's crds/ directory.")
    lookup: bool = Field(
        False,
        description="Let templates' lookup read live objects of the destination (read-only,"
        " within the Project's namespaces and kinds, never Secrets); the Project must allow"
        " it with allowHelmLookup. Default: lookup returns empty maps, as in helm template.",
    )


class JsonnetVar(ApiModel):
    """A top-level argument or external variable."""

    name: str
    value: str
    code: bool = Field(False, description="Evaluate value as Jsonnet code, not a string.")


class JsonnetSource(ApiModel):
    """Options for Jsonnet files at ``path``."""

    tlas: list[JsonnetVar] = Field(default_factory=list, description="Top-level arguments.")
    ext_vars: list[JsonnetVar] = Field(default_factory=list, description="External variables.")
    libs: list[str] = Field(
        default_factory=list, description="Library search paths inside the repository."
    )


class SecretReference(ApiModel):
    """A Secret by name, in the Application's own namespace."""

    name: Annotated[str, Field(pattern=names.RELEASE_NAME_PATTERN, max_length=253)] = Field(
        description="Name of the Secret."
    )


class SourceDecryption(ApiModel):
    """Decryption of SOPS-encrypted documents after the render (Flux's ``spec.decryption``)."""

    provider: Annotated[str, Field(pattern=r"^sops$")] = Field(
        "sops", description="Only sops is supported."
    )
    secret_ref: SecretReference = Field(
        description="Secret in the app's namespace whose *.agekey entries hold age identities."
    )


class ApplicationSource(ApiModel):
    """Where the desired state comes from.

    With ``chart`` set, ``repoURL`` is a Helm repository (https:// index or
    oci://) and ``targetRevision`` the chart version or a semver range;
    otherwise ``repoURL`` is a git repository. The renderer is detected from
    the files at ``path`` unless one of directory/kustomize/helm/jsonnet is set.
    """

    repo_url: Annotated[str, Field(alias="repoURL", min_length=1)] = Field(
        description="Git repository URL (https://, ssh://, file://)."
    )
    target_revision: str = Field(
        "HEAD", description="Branch, tag or commit SHA to follow; HEAD is the default branch."
    )
    path: str = Field(".", description="Directory inside the repository holding the manifests.")
    chart: (
        Annotated[str, Field(pattern=names.CHART_NAME_PATTERN, max_length=names.CHART_NAME_MAX)]
        | None
    ) = Field(None, description="Chart name in a Helm repository.")
    directory: DirectorySource | None = Field(None, description="Plain directory options.")
    kustomize: KustomizeSource | None = Field(None, description="Kustomize options.")
    helm: HelmSource | None = Field(None, description="Helm options.")
    jsonnet: JsonnetSource | None = Field(None, description="Jsonnet options.")
    decryption: SourceDecryption | None = Field(
        None, description="Decrypt SOPS-encrypted documents of the render with keys from a Secret."
    )


class ApplicationDestination(ApiModel):
    """Where the manifests are applied."""

    server: str | None = Field(
        None, description="API server URL of the destination; empty means this cluster."
    )
    name: str | None = Field(None, description="Name of a registered cluster.")
    namespace: _Namespace | None = Field(
        None, description="Namespace for namespaced objects that do not name one."
    )


class AutomatedSync(ApiModel):
    """Sync automatically whenever git or the cluster changes."""

    prune: bool = Field(False, description="Delete objects removed from git.")
    self_heal: bool = Field(False, description="Revert changes made in the cluster.")
    allow_empty: bool = Field(
        False, description="Allow a render with no objects to prune everything the app had."
    )


class Backoff(ApiModel):
    """Exponential backoff between retries of a failed sync."""

    duration: Annotated[str, Field(pattern=DURATION_PATTERN)] = Field(
        "5s", description="Delay before the first retry."
    )
    factor: int = Field(2, ge=1, description="Multiplier applied to the delay after each retry.")
    max_duration: Annotated[str, Field(pattern=DURATION_PATTERN)] = Field(
        "3m", description="Upper bound of the delay."
    )


class RetryPolicy(ApiModel):
    """How a failed sync is retried."""

    limit: int = Field(5, ge=0, description="Retries after the first attempt; 0 disables.")
    backoff: Backoff = Field(default_factory=Backoff)


class SyncPolicy(ApiModel):
    """When and how the controller converges the cluster to git."""

    automated: AutomatedSync | None = Field(
        None, description="Present: sync on every change. Absent: sync only when asked."
    )
    sync_options: list[str] = Field(
        default_factory=list, description="Options such as CreateNamespace=true."
    )
    retry: RetryPolicy | None = Field(None, description="Retry failed syncs with backoff.")
    health_timeout: Annotated[str, Field(pattern=DURATION_PATTERN)] = Field(
        "5m",
        description="How long a sync step that something depends on (a later wave, a "
        "PostSync hook) waits for its objects to turn healthy before the sync fails.",
    )
    supersede: bool = Field(
        True,
        description="Let a newer revision cancel an automated sync that is only waiting "
        "for health (at a safe point, never during a hook) and sync the new revision.",
    )

    @field_validator("health_timeout")
    @classmethod
    def _valid_health_timeout(cls, value: str) -> str:
        if parse_duration(value).total_seconds() < 1:
            raise ValueError("healthTimeout must be at least 1s")
        return value

    def health_timeout_seconds(self) -> float:
        return parse_duration(self.health_timeout).total_seconds()

    def option(self, name: str) -> str | None:
        """The value of ``name=value`` in ``syncOptions`` (last one wins), or None."""
        value = None
        for item in self.sync_options:
            key, _, val = item.partition("=")
            if key.strip() == name:
                value = val.strip()
        return value

    def option_enabled(self, name: str) -> bool:
        return (self.option(name) or "").lower() == "true"


class IgnoreDifference(ApiModel):
    """Fields that may differ from git without making the app OutOfSync.

    Matched objects keep these fields out of the comparison and out of what
    driftless applies, so another controller (an HPA, a mutating webhook) may
    own them.
    """

    group: str = Field("", description="API group; empty for the core group, * for any.")
    kind: str = Field(description="Kind, or * for any.")
    name: str | None = Field(None, description="Only the object with this name.")
    namespace: str | None = Field(None, description="Only objects in this namespace.")
    json_pointers: list[str] = Field(
        default_factory=list, description="RFC 6901 pointers such as /spec/replicas."
    )
    managed_fields_managers: list[str] = Field(
        default_factory=list, description="Ignore every field owned by these field managers."
    )


class ApplicationSpec(ApiModel):
    """What an Application asks for."""

    project: str = Field("default", description="Project the application belongs to.")
    source: ApplicationSource
    destination: ApplicationDestination = Field(default_factory=ApplicationDestination)
    sync_policy: SyncPolicy = Field(default_factory=SyncPolicy)
    ignore_differences: list[IgnoreDifference] = Field(
        default_factory=list, description="Differences that do not count as drift."
    )
    interval: Annotated[str, Field(pattern=DURATION_PATTERN)] | None = Field(
        None, description="How often to re-check git and the cluster (default: controller's)."
    )
    revision_history_limit: int = Field(
        10, ge=1, le=100, description="How many past syncs status.history keeps."
    )

    @field_validator("interval")
    @classmethod
    def _valid_interval(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value


# ------------------------------------------------------------------- status


class SyncStatusCode(StrEnum):
    SYNCED = "Synced"
    OUT_OF_SYNC = "OutOfSync"
    UNKNOWN = "Unknown"


class HealthStatusCode(StrEnum):
    HEALTHY = "Healthy"
    PROGRESSING = "Progressing"
    DEGRADED = "Degraded"
    SUSPENDED = "Suspended"
    MISSING = "Missing"
    UNKNOWN = "Unknown"


class Condition(ApiModel):
    """A ``metav1.Condition``: the shape ``kubectl wait --for=condition=X`` reads."""

    type: str
    status: str = Field(description="True, False or Unknown.")
    reason: str
    message: str = ""
    last_transition_time: str
    observed_generation: int | None = None


class SyncStatus(ApiModel):
    status: SyncStatusCode = SyncStatusCode.UNKNOWN
    revision: str | None = Field(None, description="Full commit SHA last compared or applied.")


class HealthStatus(ApiModel):
    status: HealthStatusCode = HealthStatusCode.UNKNOWN
    message: str | None = None


class ResourceStatus(ApiModel):
    """One managed object as seen in the last reconcile.

    The list of these is also the app's inventory: an object listed here that
    git no longer renders is a prune candidate (``requiresPruning``).
    """

    group: str = ""
    version: str = ""
    kind: str
    namespace: str = ""
    name: str
    status: SyncStatusCode = SyncStatusCode.UNKNOWN
    health: HealthStatus | None = None
    message: str | None = None
    requires_pruning: bool | None = Field(
        None, description="Gone from git but still in the cluster."
    )


class SyncResourceSelector(ApiModel):
    """One object of a selective sync."""

    group: str = ""
    kind: str
    namespace: str = ""
    name: str


class SyncOperation(ApiModel):
    """What one sync should do (written by the CLI, or by the controller for auto-sync)."""

    revision: str | None = Field(None, description="Commit to sync to; default: targetRevision.")
    prune: bool = Field(False, description="Delete objects that git no longer has.")
    dry_run: bool = Field(False, description="Only report what would be done.")
    resources: list[SyncResourceSelector] = Field(
        default_factory=list, description="Sync only these objects (no hooks run)."
    )


class InitiatedBy(ApiModel):
    username: str | None = None
    automated: bool = False


class Operation(ApiModel):
    """A requested operation: set ``operation`` on the Application to start one.

    ``requested_at`` makes each request unique: the controller runs a request
    once (see ``pipeline.policy.served``), so without it a second request with
    the same options would look like the first one read again. Every front end
    sets it (``pipeline.requests``); automated operations and requests written
    by hand or by older clients have none.
    """

    sync: SyncOperation = Field(default_factory=SyncOperation)
    initiated_by: InitiatedBy = Field(default_factory=InitiatedBy)
    requested_at: str | None = Field(
        None,
        max_length=64,
        description="When the request was written (RFC 3339, microseconds); tells a new request"
        " from one already served with the same options.",
    )
    retry: int = Field(0, description="How many times this operation was retried.")


class OperationPhase(StrEnum):
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ERROR = "Error"
    # Cancelled at a safe point by a newer revision (see ``driftless.sync``).
    SUPERSEDED = "Superseded"
    # Stopped at a safe point on request (``driftless app terminate-op``).
    TERMINATED = "Terminated"


class SyncStep(ApiModel):
    """Where a running sync is: the step machine's cursor."""

    phase: SyncPhase = Field(SyncPhase.PRE_SYNC, description="PreSync, Sync, PostSync or SyncFail.")
    wave: int | None = None
    applied: bool = Field(False, description="The objects of this step were sent.")
    waiting_since: str | None = Field(
        None, description="When this step's health gate first waited (its deadline counts from it)."
    )


class ResourceResult(ApiModel):
    """What a sync did to one object."""

    group: str = ""
    version: str = ""
    kind: str
    namespace: str = ""
    name: str
    status: ResultCode = Field(description="Pending, Synced, SyncFailed, Pruned or PruneSkipped.")
    message: str | None = None
    hook_type: SyncPhase | None = Field(None, description="PreSync, Sync, PostSync or SyncFail.")
    hook_phase: HookPhase | None = Field(None, description="Running, Succeeded or Failed.")
    sync_phase: SyncPhase | None = Field(None, description="The phase the object was applied in.")
    wave: int | None = None


class OperationState(ApiModel):
    """Progress and result of the current or last operation (resumable)."""

    operation: Operation
    phase: OperationPhase = OperationPhase.RUNNING
    message: str = ""
    started_at: str
    finished_at: str | None = None
    revision: str = Field("", description="The commit this operation syncs.")
    step: SyncStep | None = None
    resources: list[ResourceResult] = Field(default_factory=list)
    resources_omitted: int | None = Field(
        None,
        description="Objects this finished operation synced without note that ``resources`` "
        "leaves out to keep the status under its size budget; status.resources lists them all.",
    )


def resources_omitted(operation: Any) -> int:
    """``resourcesOmitted`` of a stored ``operationState`` as read by code that takes the raw
    status: anything but a positive integer (a hand-edited status) counts 0."""
    value = operation.get("resourcesOmitted") if isinstance(operation, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


class HistoryEntry(ApiModel):
    """One finished sync, for rollback."""

    id: int
    revision: str
    deployed_at: str
    started_at: str | None = None
    initiated_by: InitiatedBy = Field(default_factory=InitiatedBy)
    result: OperationPhase = OperationPhase.SUCCEEDED
    source: ApplicationSource | None = None


class ApplicationStatus(ApiModel):
    """What the controller observed and did."""

    observed_generation: int | None = None
    sync: SyncStatus = Field(default_factory=SyncStatus)
    health: HealthStatus = Field(default_factory=HealthStatus)
    resources: list[ResourceStatus] = Field(default_factory=list)
    conditions: list[Condition] = Field(default_factory=list)
    last_synced_at: str | None = None
    operation_state: OperationState | None = None
    history: list[HistoryEntry] = Field(default_factory=list)


class Application(ApiModel):
    """A whole Application object (metadata kept as the raw dict the server sent)."""

    api_version: str = API_VERSION
    kind: str = APPLICATION_KIND
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: ApplicationSpec
    operation: Operation | None = None
    status: ApplicationStatus = Field(default_factory=ApplicationStatus)

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", ""))

    @property
    def namespace(self) -> str:
        return str(self.metadata.get("namespace", ""))

    @property
    def generation(self) -> int:
        return int(self.metadata.get("generation", 0))

    @property
    def annotations(self) -> dict[str, str]:
        return dict(self.metadata.get("annotations") or {})
