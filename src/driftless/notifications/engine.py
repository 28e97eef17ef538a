"""The notification engine: from Application transitions to messages handed to delivery.

Contract:

* ``observe(previous, current)`` is called by the controller for every
  Application the watch delivers (``previous`` None the first time: a
  baseline, nothing fires, so a controller start or a re-list never sends a
  burst). It is synchronous and cheap: ``triggers.step`` on the two objects,
  and only when a trigger fired, a scan of the rules that see the app
  (``selection``) and the dedupe table. Matching jobs go on one of
  ``WORKERS`` bounded queues, picked by the app's uid, each worked by its own
  task: apps are sent in parallel, while one app's messages keep their order
  (running before succeeded). A full queue drops the job, counted in
  ``driftless_notifications_dropped_total{queue="engine"}`` and logged; it
  never awaits, never raises.
* ``run()`` (a task of the controller) list-watches NotificationService and
  NotificationRule objects (all namespaces, or the controller's watched
  one), checks them (``Ready`` condition in their status, an Event on a new
  problem) on every change and every ``RECHECK_SECONDS``, and works the job
  queue: commit info from the controller's git cache, templates rendered in
  the sandbox worker (``renderer``), services and their Secrets read from
  the *rule's* namespace, ``Delivery.submit`` per service. A namespace's
  notification Secrets are listed at most once per ``SECRET_CACHE_SECONDS``
  (one list serves a whole check pass and the jobs around it).
* A template that fails to render skips that rule's message with a Warning
  Event ``TemplateFailed`` on the rule naming the field and the line; other
  rules and services are not affected. One that hit a limit (took too long,
  ran out of memory: ``Failure.exhausted``) *quarantines* its rule: Ready=False
  ``TemplateQuarantined`` and one Event, and the rule is skipped until its
  ``metadata.generation`` changes, so one tenant's template cannot take the
  single template worker from every other tenant's messages. A delivery that
  finally fails becomes a Warning Event ``DeliveryFailed`` on the
  NotificationService.
* Secrets' values go only into ``Target.secrets``: never into logs, Events,
  status or exceptions. Only Secrets labelled ``driftless.dev/secret-type:
  notification`` are read (listed by that label), never one of type
  ``kubernetes.io/service-account-token``: a tenant's service cannot make the
  controller fetch another Secret of its namespace and send it to a host the
  tenant picked. "Not found" and "not labelled" read the same (no oracle).
  Tenants' objects are untrusted: every field is validated by the pydantic
  models before use.
* Everything remembered (trigger memory, dedupe) is in memory: a restarted
  controller starts from a new baseline (see the README).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
import uuid
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import ValidationError

from driftless.core.conditions import now_rfc3339
from driftless.core.models import API_VERSION
from driftless.core.repourl import redact
from driftless.core.wellknown import SECRET_TYPE_LABEL
from driftless.kube.client import KubeApiError, KubeClient, KubeExpiredError, UnknownKindError
from driftless.notifications import context as ctx
from driftless.notifications import triggers
from driftless.notifications.delivery import DROPPED, Delivery
from driftless.notifications.message import Notification, Target
from driftless.notifications.model import (
    RULE_KIND,
    SERVICE_KIND,
    NotificationRuleSpec,
    NotificationServiceSpec,
)
from driftless.notifications.renderer import TemplateRenderer
from driftless.notifications.selection import sees, selects
from driftless.notifications.services.egress import Egress
from driftless.notifications.templates import DEFAULTS, Failure

log = logging.getLogger(__name__)

JSON = dict[str, Any]
Key = tuple[str, str]
QUEUE_SIZE = 1000  # jobs waiting, all workers' queues together
WORKERS = 4
# How long one list of a namespace's notification Secrets is used (rotations show within it).
SECRET_CACHE_SECONDS = 10.0
# A Secret missing from the cached list is looked for again in a fresh list
# (it may have been created a moment ago), but at most this often per
# namespace, so a rule naming a Secret that does not exist costs no list storm.
SECRET_MISS_RELIST_SECONDS = 1.0
RECHECK_SECONDS = 30.0
RELIST_DELAY_SECONDS = 5.0
COMMIT_INFO_TIMEOUT = 5.0
COMPONENT = "driftless-controller"
MAX_EVENT_MESSAGE = 1024
SECRET_KEYS = ("url", "token", "username", "password", "hmacKey", "ca.crt")
# Value of ``SECRET_TYPE_LABEL`` on the Secrets a NotificationService may name.
NOTIFICATION_SECRET_TYPE = "notification"
NOTIFICATION_SECRET_SELECTOR = f"{SECRET_TYPE_LABEL}={NOTIFICATION_SECRET_TYPE}"
_REFUSED_SECRET_TYPES = frozenset({"kubernetes.io/service-account-token"})


class CommitReader(Protocol):
    """What the engine needs of ``GitCache``."""

    async def commit_info(self, repo_url: str, sha: str) -> Any: ...


class Submitter(Protocol):
    def submit(self, n: Notification, t: Target) -> bool: ...


@dataclass(frozen=True)
class Job:
    rule: Key
    trigger: str
    revision: str | None
    app: JSON


@dataclass
class _Rule:
    obj: JSON
    spec: NotificationRuleSpec | None  # None: invalid (its status says why)

    @property
    def uid(self) -> str:
        return str(self.obj.get("metadata", {}).get("uid") or "")


class NotificationEngine:
    """See the module docstring."""

    def __init__(
        self,
        client: KubeClient,
        *,
        home: str,
        namespace: str | None = None,
        git: CommitReader | None = None,
        ui_url: str | None = None,
        delivery: Submitter | None = None,
        renderer: TemplateRenderer | None = None,
        queue_size: int = QUEUE_SIZE,
        allow_private_networks: bool = False,
    ) -> None:
        self.client = client
        self.home = home
        self.namespace = namespace
        self.git = git
        self.ui_url = ui_url
        self._own_delivery = delivery is None
        # Services in ``home`` are the admins': they may reach private ranges (services.egress).
        egress_policy = Egress(allow_private=allow_private_networks, home=home)
        self.delivery: Submitter = delivery or Delivery(
            self._delivery_failed, egress_policy=egress_policy
        )
        self.renderer = renderer or TemplateRenderer()
        # One queue per worker; an app's jobs always go to the same one (``_queue_of``).
        self.queues: list[asyncio.Queue[Job]] = [
            asyncio.Queue(max(1, queue_size // WORKERS)) for _ in range(WORKERS)
        ]
        self._secrets: dict[str, tuple[float, asyncio.Task[list[JSON]]]] = {}
        self.rules: dict[Key, _Rule] = {}
        self.services: dict[Key, JSON] = {}
        self.memory: dict[str, triggers.Memory] = {}
        self.dedupe = triggers.Dedupe()
        self.dropped = 0
        self._changed = asyncio.Event()
        self._problems: dict[tuple[str, Key], str] = {}  # (kind, key) -> last problem told
        # rule -> ((uid, generation) when quarantined, the problem its status shows)
        self.quarantined: dict[Key, tuple[Any, tuple[str, str]]] = {}
        # With sharded replicas, one replica writes each object's condition and
        # Events (the owner of the object's key's shard), not every replica.
        self.writes_status: Callable[[Key], bool] = lambda _key: True

    # -- the controller's side (synchronous, never blocks) --------------------

    def observe(self, previous: JSON | None, current: JSON) -> None:
        try:
            self._observe(previous, current)
        except Exception:  # a bug here must never break the controller's watch
            log.exception("notifications: observing an application failed")

    def forget(self, obj: JSON) -> None:
        uid = _uid(obj)
        self.memory.pop(uid, None)
        self.dedupe.forget_app(uid)

    def _observe(self, previous: JSON | None, current: JSON) -> None:
        uid = _uid(current)
        memory = self.memory.get(uid)
        if previous is None or memory is None:
            self.memory[uid] = triggers.baseline(current if previous is None else previous)
            if previous is None:
                return
            memory = self.memory[uid]
        memory, fired = triggers.step(memory, previous, current)
        self.memory[uid] = memory
        self.dedupe.clear(uid, triggers.cleared(current))
        for trigger, revision in fired:
            for key in self._rules_for(current, trigger):
                once = triggers.occurrence(trigger, revision, current)
                if self.dedupe.first(self.rules[key].uid, trigger, uid, once):
                    self._enqueue(Job(key, trigger, revision, current))

    def _rules_for(self, app: JSON, trigger: str) -> list[Key]:
        namespace = str(app.get("metadata", {}).get("namespace") or "")
        return [
            key
            for key, rule in self.rules.items()
            if rule.spec is not None
            and not rule.spec.suspend
            and trigger in rule.spec.triggers
            and self._quarantine_of(key) is None
            and sees(key[0], self.home, namespace)
            and selects(rule.spec.selector, app)
        ]

    def _queue_of(self, app: JSON) -> asyncio.Queue[Job]:
        """The queue of ``app``'s jobs: the same for all of them, so they go in order."""
        return self.queues[zlib.crc32(_uid(app).encode()) % len(self.queues)]

    @property
    def pending(self) -> int:
        """Jobs waiting in all queues."""
        return sum(q.qsize() for q in self.queues)

    def _enqueue(self, job: Job) -> None:
        try:
            self._queue_of(job.app).put_nowait(job)
        except asyncio.QueueFull:
            self.dropped += 1
            DROPPED.labels(service_type="none", queue="engine").inc()
            log.warning(
                "notifications: queue full, dropped %s for %s/%s",
                job.trigger,
                job.app.get("metadata", {}).get("namespace"),
                job.app.get("metadata", {}).get("name"),
            )

    # -- the engine's own tasks -----------------------------------------------

    async def run(self) -> None:
        """Watch rules and services, check them, send what ``observe`` queued."""
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._watch(RULE_KIND, self._on_rule))
                group.create_task(self._watch(SERVICE_KIND, self._on_service))
                group.create_task(self._checker())
                for queue in self.queues:
                    group.create_task(self._worker(queue))
        finally:
            await self.close()

    async def close(self) -> None:
        await self.renderer.close()
        if self._own_delivery and isinstance(self.delivery, Delivery):
            await self.delivery.close(drain=2.0)

    async def _watch(self, kind: str, handle: Callable[[str, JSON], None]) -> None:
        while True:
            try:
                items, version = await self.client.list_with_version(
                    API_VERSION, kind, self.namespace
                )
                handle("SYNC", {"items": items})
                while True:
                    async for event in self.client.watch(
                        API_VERSION, kind, self.namespace, resource_version=version
                    ):
                        version = event.obj.get("metadata", {}).get("resourceVersion", version)
                        if event.type != "BOOKMARK":
                            handle(event.type, event.obj)
            except UnknownKindError:
                log.warning("notifications: the %s CRD is not installed", kind)
                await asyncio.sleep(RECHECK_SECONDS)
            except KubeExpiredError:
                pass
            except KubeApiError as exc:
                log.warning("notifications: watching %s failed: %s", kind, exc)
            except Exception:  # never let one bad object end the engine's watch
                log.exception("notifications: watching %s failed", kind)
            await asyncio.sleep(RELIST_DELAY_SECONDS)

    def _on_rule(self, event: str, obj: JSON) -> None:
        if event == "SYNC":
            self.rules = {_key(o): _parse_rule(o) for o in obj["items"]}
        elif event == "DELETED":
            self.rules.pop(_key(obj), None)
        else:
            self.rules[_key(obj)] = _parse_rule(obj)
        self._changed.set()

    def _on_service(self, event: str, obj: JSON) -> None:
        if event == "SYNC":
            self.services = {_key(o): o for o in obj["items"]}
        elif event == "DELETED":
            self.services.pop(_key(obj), None)
        else:
            self.services[_key(obj)] = obj
        self._changed.set()

    # -- checking rules and services ------------------------------------------

    async def _checker(self) -> None:
        while True:
            self._changed.clear()
            try:
                await self.check_all()
            except Exception:
                log.exception("notifications: checking rules failed")
            try:
                await asyncio.wait_for(self._changed.wait(), RECHECK_SECONDS)
                await asyncio.sleep(0.2)  # coalesce a burst of changes
            except TimeoutError:
                pass

    async def check_all(self) -> None:
        """Check every service, then every rule; write conditions and Events on change."""
        for key, obj in list(self.services.items()):
            if not self.writes_status(key):
                continue
            problem = await self._service_problem(key, obj)
            await self._tell(SERVICE_KIND, key, obj, problem)
        for key, rule in list(self.rules.items()):
            if not self.writes_status(key):
                continue
            problem = await self._rule_problem(key, rule)
            await self._tell(RULE_KIND, key, rule.obj, problem)

    async def _service_problem(self, key: Key, obj: JSON) -> tuple[str, str] | None:
        try:
            spec = NotificationServiceSpec.model_validate(obj.get("spec") or {})
        except ValidationError as exc:
            return "InvalidSpec", _validation_message(exc)
        if spec.secret_ref is not None:
            secret = await self._secret(key[0], spec.secret_ref.name)
            if secret is None:
                return "SecretNotFound", secret_not_found(spec.secret_ref.name, key[0])
        return None

    async def _rule_problem(self, key: Key, rule: _Rule) -> tuple[str, str] | None:
        quarantine = self._quarantine_of(key)
        if quarantine is not None:
            return quarantine
        if rule.spec is None:
            try:
                NotificationRuleSpec.model_validate(rule.obj.get("spec") or {})
            except ValidationError as exc:
                return "InvalidSpec", _validation_message(exc)
            return "InvalidSpec", "invalid spec"
        for name in rule.spec.services:
            service = self.services.get((key[0], name))
            if service is None:
                return "ServiceNotFound", f"NotificationService {name!r} not found in {key[0]}"
            problem = await self._service_problem((key[0], name), service)
            if problem is not None:
                return problem[0], f"service {name!r}: {problem[1]}"
        fields = _fields(rule.spec)
        if fields:
            failure = await self.renderer.check(fields)
            if failure is not None and failure.exhausted:
                return self._quarantine(key, rule, failure.describe())
            if failure is not None:
                return "TemplateError", failure.describe()
        return None

    async def _tell(self, kind: str, key: Key, obj: JSON, problem: tuple[str, str] | None) -> None:
        """Ready condition in status (when it changed), and an Event on a new problem."""
        status = "False" if problem else "True"
        reason, message = problem or ("Ready", "")
        current = _ready(obj)
        generation = obj.get("metadata", {}).get("generation")
        if current != (status, reason, message, generation):
            condition = {
                "type": "Ready",
                "status": status,
                "reason": reason,
                "message": message,
                "lastTransitionTime": now_rfc3339(),
                "observedGeneration": generation,
            }
            patch = {"status": {"observedGeneration": generation, "conditions": [condition]}}
            try:
                await self.client.merge_patch(
                    API_VERSION, kind, key[1], patch, namespace=key[0], subresource="status"
                )
            except KubeApiError as exc:
                log.warning("notifications: cannot write status of %s %s/%s: %s", kind, *key, exc)
        told = self._problems.get((kind, key))
        text = f"{reason}: {message}" if problem else ""
        if problem and told != text:
            await self.event(obj, "Warning", reason, message)
        self._problems[(kind, key)] = text

    # -- sending --------------------------------------------------------------

    async def _worker(self, queue: asyncio.Queue[Job]) -> None:
        while True:
            job = await queue.get()
            try:
                await self.process(job)
            except Exception:
                log.exception("notifications: a job failed")

    async def process(self, job: Job) -> None:
        """Render one rule's message about one app and submit it to each service."""
        rule = self.rules.get(job.rule)
        if rule is None or rule.spec is None or self._quarantine_of(job.rule) is not None:
            return  # deleted, broken or quarantined since: its status says why
        commit = await self._commit(job)
        variables = ctx.variables(job.app, job.trigger, job.revision, commit, self.ui_url)
        title, body = DEFAULTS[job.trigger]
        fields = {
            "title": rule.spec.template.title or title,
            "body": rule.spec.template.body or body,
        }
        rendered = await self.renderer.render(fields, variables)
        if isinstance(rendered, Failure) and rendered.exhausted:
            app = variables["app"]
            where = f"{job.trigger} for {app['namespace']}/{app['name']}: {rendered.describe()}"
            await self._tell(RULE_KIND, job.rule, rule.obj, self._quarantine(job.rule, rule, where))
            return
        if isinstance(rendered, Failure):
            app = variables["app"]
            await self.event(
                rule.obj,
                "Warning",
                "TemplateFailed",
                f"{job.trigger} for {app['namespace']}/{app['name']} not sent: "
                + rendered.describe(),
            )
            return
        notification = ctx.notification(variables, rendered["title"], rendered["body"])
        for name in rule.spec.services:
            target = await self._target(job.rule[0], name)
            if target is None:
                await self.event(
                    rule.obj,
                    "Warning",
                    "ServiceNotReady",
                    f"{job.trigger} for {notification.app_namespace}/{notification.app_name}"
                    f" not sent to {name!r}: the service or its Secret is missing or invalid",
                )
                continue
            self.delivery.submit(notification, target)

    def _quarantine(self, key: Key, rule: _Rule, what: str) -> tuple[str, str]:
        """Quarantine ``rule`` at its generation; the problem its status and Event show."""
        problem = (
            "TemplateQuarantined",
            f"skipped until the rule changes: {what}"[:MAX_EVENT_MESSAGE],
        )
        self.quarantined[key] = ((rule.uid, _generation(rule.obj)), problem)
        log.warning("notifications: rule %s/%s quarantined: %s", *key, what)
        return problem

    def _quarantine_of(self, key: Key) -> tuple[str, str] | None:
        """The quarantine problem of rule ``key``; forgotten once its generation moved on."""
        entry = self.quarantined.get(key)
        if entry is None:
            return None
        rule = self.rules.get(key)
        if rule is None or (rule.uid, _generation(rule.obj)) != entry[0]:
            del self.quarantined[key]
            return None
        return entry[1]

    async def _commit(self, job: Job) -> Any:
        if self.git is None or not job.revision:
            return None
        repo = job.app.get("spec", {}).get("source", {}).get("repoURL")
        if not isinstance(repo, str) or job.app.get("spec", {}).get("source", {}).get("chart"):
            return None
        try:
            async with asyncio.timeout(COMMIT_INFO_TIMEOUT):
                return await self.git.commit_info(repo, job.revision)
        except Exception:  # commit details are a nicety: the message goes without them
            return None

    async def _target(self, namespace: str, name: str) -> Target | None:
        obj = self.services.get((namespace, name))
        if obj is None:
            return None
        try:
            spec = NotificationServiceSpec.model_validate(obj.get("spec") or {})
        except ValidationError:
            return None
        secrets: Mapping[str, str] = {}
        if spec.secret_ref is not None:
            found = await self._secret(namespace, spec.secret_ref.name)
            if found is None:
                return None
            secrets = found
        return Target(
            type=spec.type,
            name=name,
            namespace=namespace,
            address=spec.address,
            channel=spec.channel,
            recipients=tuple(spec.recipients),
            sender=spec.from_,
            secrets=secrets,
            start_tls=spec.start_tls,
            insecure_skip_tls=spec.insecure_skip_tls,
            rate_per_minute=spec.rate_limit,
        )

    async def _secret(self, namespace: str, name: str) -> dict[str, str] | None:
        """The known keys of Secret ``namespace/name`` (always the rule's own namespace).

        Listed by the notification label, so an unlabelled Secret is never read
        at all; ``None`` for one that is missing, unlabelled or of a refused type.
        """
        try:
            obj = notification_secret(await self._listed_secrets(namespace), name)
            if obj is None:
                obj = notification_secret(await self._listed_secrets(namespace, miss=True), name)
        except KubeApiError as exc:
            log.warning("notifications: cannot read a Secret in %s: HTTP %s", namespace, exc.status)
            return None
        if obj is None:
            return None
        data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
        out = {}
        for key in SECRET_KEYS:
            value = (data or {}).get(key)
            if isinstance(value, str):
                try:
                    out[key] = base64.b64decode(value, validate=True).decode()
                except (binascii.Error, UnicodeDecodeError):
                    continue
        return out

    async def _listed_secrets(self, namespace: str, *, miss: bool = False) -> list[JSON]:
        """The namespace's labelled Secrets, listed at most once per ``SECRET_CACHE_SECONDS``.

        Concurrent callers share one request; a failed one is not kept. With
        ``miss`` (a Secret was not in the list), a list older than
        ``SECRET_MISS_RELIST_SECONDS`` is replaced by a fresh one.
        """
        now = time.monotonic()
        cached = self._secrets.get(namespace)
        stale_for_miss = (
            miss
            and cached is not None
            and cached[0] - SECRET_CACHE_SECONDS + SECRET_MISS_RELIST_SECONDS <= now
        )
        if cached is None or cached[0] <= now or _failed(cached[1]) or stale_for_miss:
            request = asyncio.ensure_future(
                self.client.list(
                    "v1", "Secret", namespace, label_selector=NOTIFICATION_SECRET_SELECTOR
                )
            )
            cached = (now + SECRET_CACHE_SECONDS, request)
            self._secrets[namespace] = cached
            for gone in [ns for ns, (until, _) in self._secrets.items() if until <= now]:
                del self._secrets[gone]  # namespaces no longer asked about
        return await asyncio.shield(cached[1])

    async def _delivery_failed(self, n: Notification, t: Target, reason: str) -> None:
        service = self.services.get(t.key)
        if service is None:
            return
        await self.event(
            service,
            "Warning",
            "DeliveryFailed",
            f"{n.trigger} for {n.app_namespace}/{n.app_name}: {reason}",
        )

    async def event(self, obj: JSON, type_: str, reason: str, message: str) -> None:
        """One core/v1 Event about ``obj``; failures are logged, never raised."""
        meta = obj.get("metadata", {})
        now = now_rfc3339()
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{meta.get('name')}.{uuid.uuid4().hex[:16]}",
                "namespace": meta.get("namespace"),
            },
            "involvedObject": {
                "apiVersion": obj.get("apiVersion"),
                "kind": obj.get("kind"),
                "name": meta.get("name"),
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
            },
            "type": type_,
            "reason": reason,
            "message": redact(message)[:MAX_EVENT_MESSAGE],
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": COMPONENT,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            await self.client.create(body)
        except KubeApiError as exc:
            log.warning("notifications: cannot record an event on %s: %s", meta.get("name"), exc)


def notification_secret(listed: list[JSON], name: str) -> JSON | None:
    """The Secret ``name`` among ``listed`` if a service may use it (labelled, not a token)."""
    for obj in listed:
        meta = obj.get("metadata") or {}
        if meta.get("name") != name:
            continue
        labels = meta.get("labels") if isinstance(meta.get("labels"), dict) else {}
        if (labels or {}).get(SECRET_TYPE_LABEL) != NOTIFICATION_SECRET_TYPE:
            return None
        if obj.get("type") in _REFUSED_SECRET_TYPES:
            return None
        return obj
    return None


def secret_not_found(name: str, namespace: str) -> str:
    """One text for missing and unlabelled alike: no oracle of which Secrets exist."""
    return (
        f"Secret {name!r} not found in {namespace} or not labelled"
        f" {SECRET_TYPE_LABEL}: {NOTIFICATION_SECRET_TYPE}"
    )


def _failed(task: asyncio.Task[Any]) -> bool:
    return task.done() and (task.cancelled() or task.exception() is not None)


def _key(obj: JSON) -> Key:
    meta = obj.get("metadata", {})
    return str(meta.get("namespace", "")), str(meta.get("name", ""))


def _uid(obj: JSON) -> str:
    meta = obj.get("metadata", {})
    return str(meta.get("uid") or f"{meta.get('namespace')}/{meta.get('name')}")


def _generation(obj: JSON) -> Any:
    return obj.get("metadata", {}).get("generation")


def _parse_rule(obj: JSON) -> _Rule:
    try:
        return _Rule(obj, NotificationRuleSpec.model_validate(obj.get("spec") or {}))
    except ValidationError:
        return _Rule(obj, None)


def _fields(spec: NotificationRuleSpec) -> dict[str, str]:
    fields = {"title": spec.template.title, "body": spec.template.body}
    return {k: v for k, v in fields.items() if v}


def _ready(obj: JSON) -> tuple[str, str, str, Any]:
    status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
    for cond in (status or {}).get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == "Ready":
            return (
                str(cond.get("status")),
                str(cond.get("reason")),
                str(cond.get("message") or ""),
                cond.get("observedGeneration"),
            )
    return ("", "", "", None)


def _validation_message(exc: ValidationError) -> str:
    """The first problem, by field path; never the offending value (it may be a secret)."""
    error = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(p) for p in error.get("loc", ())) or "spec"
    return f"spec.{where}: {error.get('msg', 'invalid')}"[:300]
