"""Who may do what through the API: the RBAC policy, parsed and evaluated. Pure.

The policy is what Argo CD users already write. The administrator's part is
ConfigMap ``driftless-rbac`` in the controller's namespace (``rbac_source``
reads it), keys:

* ``policy.csv``: one rule a line, ``#`` starts a comment line::

      p, <subject>, <resource>, <action>, <object>, allow|deny
      g, <user or group>, <role>

  ``<subject>`` is a user, a group or a role (``role:<name>``); ``<resource>``
  one of ``RESOURCES``, ``<action>`` one of ``ACTIONS``, or a glob naming at
  least one (a typo is refused); ``<object>`` a glob (``*``, ``?``, ``[..]``;
  ``*`` also matches ``/``); the effect, when left out, is ``allow`` (as in
  Argo CD).
* ``policy.default``: the role everyone logged in has besides their own
  (e.g. ``role:readonly``); empty: none.

Groups are those a session has: single sign-on takes them from the ID token
claim ``--oidc-groups-claim`` names (``server.oidc``), so no ``scopes`` key is
needed here.

Objects: ``<project>/<name>`` for ``applications``, ``logs`` and ``events``
(the app's project and name); ``<project>`` for ``projects``; the
credential's URL for ``repositories``, the cluster's name for ``clusters``
(they belong to no project).

Built-in roles: ``role:readonly`` (``get`` on everything) and ``role:admin``
(everything). The local ``admin`` account, and everyone when auth is off
(``--insecure-no-auth``), has ``role:admin``.

Project roles (``Project.spec.roles``): role ``r`` of project ``p`` is
subject ``proj:p:r``; its ``policies`` are ``p`` lines naming that subject
(or none: the subject is then filled in) and may only name that project's
objects (``p/<glob>``; ``p`` for ``projects``): a line naming another
project, or not parsing, is left out and reported; its ``groups`` are
members. A user or group named ``role:...`` or ``proj:...`` is left out of a
person's subjects (only the policy grants roles). An API token of that role
(``Principal.method == "token"``, subject ``proj:p:r``) is that role and
nothing else: no default role, no groups.

Evaluation (``Policy.allows``) is that of Casbin with the model ``MODEL``: a
rule applies when one of the request's subjects has the rule's subject
(itself, or through ``g`` lines, transitively) and resource, action and object
match their globs; any ``deny`` that applies wins over every ``allow``;
nothing applies: denied. Casbin holds the rules and the role links; the rules
a (subjects, resource, action) may use are selected once, then each object is
only matched against their globs (a list of 10,000 apps is not 10,000 Casbin
calls); a unit test holds the result to Casbin's ``enforce``.

``build(config, projects)`` returns the policy and the problems found; a
problem in the ConfigMap raises ``PolicyError`` instead (the caller keeps
its last good policy), problems in Projects only leave their lines out.
Hostile input is bounded: at most ``MAX_LINES`` lines of ``MAX_LINE``
characters, fields without control characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase, translate
from typing import Any

import casbin  # type: ignore[import-untyped]

from driftless.core.project import Project

__all__ = [
    "ACTIONS",
    "ADMIN_ROLE",
    "MODEL",
    "READONLY_ROLE",
    "RESOURCES",
    "TOKEN_METHOD",
    "Config",
    "Policy",
    "PolicyError",
    "Problem",
    "Who",
    "build",
    "parse_csv",
    "project_lines",
]

RESOURCES = ("applications", "projects", "repositories", "clusters", "logs", "events")
ACTIONS = ("get", "create", "update", "delete", "sync", "override", "action")
ADMIN_ROLE = "role:admin"
READONLY_ROLE = "role:readonly"
TOKEN_METHOD = "token"
LOCAL_ADMIN = "admin"
ADMIN_METHODS = ("local", "none")  # sessions.LOCAL, and auth off
MAX_LINES = 10_000
MAX_LINE = 1_000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_EFFECTS = ("allow", "deny")
_RESERVED = ("role:", "proj:")
_SELECTIONS = 4_096  # (subjects, resource, action) whose rules are kept selected, per policy

# The Casbin model. ``member`` is true when one of the request's subjects (a
# tuple: user, groups, default role) has the rule's subject (``g``, with
# roles of roles); ``glob`` is ``fnmatchcase`` (``*`` crosses ``/``, as in
# Argo CD's glob). The effect: some rule allows and none denies.
MODEL = """
[request_definition]
r = sub, res, act, obj

[policy_definition]
p = sub, res, act, obj, eft

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = member(r.sub, p.sub) && glob(r.res, p.res) && glob(r.act, p.act) && glob(r.obj, p.obj)
"""

_BUILTIN = (
    ("p", ADMIN_ROLE, "*", "*", "*", "allow"),
    ("p", READONLY_ROLE, "*", "get", "*", "allow"),
)


class PolicyError(ValueError):
    """The ConfigMap's policy cannot be used; ``problems`` say which lines and why."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = tuple(problems)


@dataclass(frozen=True)
class Problem:
    """A line left out: where (``policy.csv`` or ``project <name>``), its number, why."""

    source: str
    line: int
    text: str
    message: str

    def __str__(self) -> str:
        shown = self.text if len(self.text) <= 120 else self.text[:120] + "..."
        return f"{self.source} line {self.line}: {self.message}: {shown!r}"


@dataclass(frozen=True)
class Config:
    """The ConfigMap's keys this module reads."""

    csv: str = ""
    default: str = ""


@dataclass(frozen=True)
class Who:
    """A request's identity as a policy sees it (built from ``auth.Principal``)."""

    subject: str
    groups: tuple[str, ...] = ()
    method: str = "local"


Line = tuple[str, ...]


def _check_field(value: str) -> str | None:
    if not value:
        return "an empty field"
    if _CONTROL.search(value):
        return "a control character"
    return None


def _parse_line(text: str) -> tuple[Line | None, str | None]:
    """One line as a rule (``None`` for blank/comment), or why it does not parse."""
    stripped = text.strip()
    if not stripped or stripped.startswith("#"):
        return None, None
    if len(stripped) > MAX_LINE:
        return None, f"longer than {MAX_LINE} characters"
    fields = tuple(part.strip() for part in stripped.split(","))
    kind = fields[0]
    for value in fields:
        problem = _check_field(value)
        if problem:
            return None, problem
    if kind == "g":
        if len(fields) != 3:
            return None, "a g line has 3 fields: g, <user or group>, <role>"
        return fields, None
    if kind != "p":
        return None, "a line starts with p or g"
    if len(fields) not in (5, 6):
        return None, "a p line has 6 fields: p, <subject>, <resource>, <action>, <object>, <effect>"
    if len(fields) == 5:
        fields = (*fields, "allow")  # Argo CD's default effect
    _, _, resource, action, _, effect = fields
    if effect not in _EFFECTS:
        return None, f"unknown effect {effect[:40]!r}; use allow or deny"
    if not _known(resource, RESOURCES):
        return None, f"unknown resource {resource[:40]!r}; use one of {', '.join(RESOURCES)}"
    if not _known(action, ACTIONS):
        return None, f"unknown action {action[:40]!r}; use one of {', '.join(ACTIONS)}"
    return fields, None


def _known(value: str, names: Sequence[str]) -> bool:
    """A name of ``names``, or a glob matching at least one (a typo is not a glob)."""
    return any(fnmatchcase(name, value) for name in names)


def parse_csv(text: str, source: str = "policy.csv") -> tuple[list[Line], list[Problem]]:
    """The rules of a ``policy.csv`` text and the lines that do not parse."""
    rules: list[Line] = []
    problems: list[Problem] = []
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        problems.append(Problem(source, MAX_LINES + 1, "", f"more than {MAX_LINES} lines"))
        lines = lines[:MAX_LINES]
    for number, line in enumerate(lines, start=1):
        rule, problem = _parse_line(line)
        if problem is not None:
            problems.append(Problem(source, number, line.strip(), problem))
        elif rule is not None:
            rules.append(rule)
    return rules, problems


def role_subject(project: str, role: str) -> str:
    """The subject of role ``role`` of project ``project`` (Argo CD's spelling)."""
    return f"proj:{project}:{role}"


def project_lines(project: Project) -> tuple[list[Line], list[Problem]]:
    """The rules of a Project's ``spec.roles``; lines naming another project are reported."""
    rules: list[Line] = []
    problems: list[Problem] = []
    name = project.name
    for role in project.spec.roles:
        subject = role_subject(name, role.name)
        source = f"project {name} role {role.name}"
        if _check_field(role.name) or ":" in role.name or "," in role.name:
            problems.append(Problem(source, 0, role.name, "a role name without ':' or ','"))
            continue
        for number, text in enumerate(role.policies[:MAX_LINES], start=1):
            rule, problem = _parse_line(text)
            if rule is None:
                if problem is not None:
                    problems.append(Problem(source, number, text.strip(), problem))
                continue
            if rule[0] != "p":
                problems.append(Problem(source, number, text.strip(), "only p lines here"))
                continue
            if rule[1] != subject:
                problems.append(
                    Problem(source, number, text.strip(), f"the subject must be {subject}")
                )
                continue
            if not _in_project(rule[2], rule[4], name):
                problems.append(
                    Problem(source, number, text.strip(), f"names objects outside project {name}")
                )
                continue
            rules.append(rule)
        for group in role.groups[:MAX_LINES]:
            if _check_field(group) or "," in group:
                problems.append(Problem(source, 0, group, "not a group name"))
                continue
            rules.append(("g", group, subject))
    return rules, problems


def _in_project(resource: str, obj: str, project: str) -> bool:
    """Whether a rule's object can only name objects of ``project``."""
    if resource in ("repositories", "clusters"):
        return False  # they belong to no project
    if resource == "projects":
        return obj == project
    if resource not in ("applications", "logs", "events"):
        return False  # a resource glob could reach repositories or clusters
    prefix = f"{project}/"
    # A literal prefix: ``team-a*`` or ``[t]eam-a/x`` could name another project.
    return obj.startswith(prefix) and not any(c in obj[: len(prefix)] for c in "*?[")


@dataclass
class Policy:
    """The evaluated policy: ``allows`` answers one question (see the module docstring)."""

    rules: tuple[Line, ...]
    default: str = ""
    _enforcer: Any = field(default=None, repr=False)
    _selected: dict[tuple[tuple[str, ...], str, str], _Selection] = field(
        default_factory=dict, repr=False
    )

    def __post_init__(self) -> None:
        model = casbin.Enforcer.new_model(text=MODEL)
        enforcer = casbin.Enforcer(model)
        roles = enforcer.get_role_manager()

        def member(subjects: tuple[str, ...], rule_subject: str) -> bool:
            return any(s == rule_subject or roles.has_link(s, rule_subject) for s in subjects)

        enforcer.add_function("member", member)
        enforcer.add_function("glob", fnmatchcase)
        # Casbin refuses a whole batch holding a rule twice: each rule once.
        unique = dict.fromkeys(self.rules)
        policies = [list(r[1:]) for r in unique if r[0] == "p"]
        groupings = [list(r[1:]) for r in unique if r[0] == "g"]
        if policies:
            enforcer.add_policies(policies)
        if groupings:
            enforcer.add_grouping_policies(groupings)
        self._enforcer = enforcer

    def subjects(self, who: Who) -> tuple[str, ...]:
        """The subjects a request acts as."""
        if who.method == TOKEN_METHOD:
            return (who.subject,)  # a project token is its role, nothing else
        # A person's name or group never acts as a role: an identity provider's
        # group "role:admin" or user "proj:a:ci" is no one's to hand out.
        out = [s for s in (who.subject, *who.groups) if not s.startswith(_RESERVED)]
        if who.subject == LOCAL_ADMIN and who.method in ADMIN_METHODS:
            out.append(ADMIN_ROLE)
        if self.default:
            out.append(self.default)
        return tuple(out)

    def allows(self, who: Who, resource: str, action: str, obj: str) -> bool:
        """May ``who`` do ``action`` on ``resource`` ``obj``? Deny wins; nothing applies: no.

        Decides as Casbin's ``MODEL`` does, without asking Casbin per object: the
        rules that may apply to these subjects, resource and action are selected
        once (``_select``), then only their object globs are matched (an app list
        of 10,000 rows costs 10,000 regex matches, not 10,000 Casbin calls).
        """
        selection = self._select(self.subjects(who), resource, action)
        if selection.deny is not None and selection.deny.match(obj):
            return False
        return selection.allow is not None and selection.allow.match(obj) is not None

    def _select(self, subjects: tuple[str, ...], resource: str, action: str) -> _Selection:
        """The object globs of the rules whose subject, resource and action match (the
        model's ``member`` and ``glob``, with Casbin's role manager), by effect."""
        key = (subjects, resource, action)
        found = self._selected.get(key)
        if found is None:
            roles = self._enforcer.get_role_manager()
            patterns: dict[str, dict[str, None]] = {"allow": {}, "deny": {}}
            for rule_subject, res, act, pattern, effect in self._enforcer.get_policy():
                if (
                    fnmatchcase(resource, res)
                    and fnmatchcase(action, act)
                    and any(s == rule_subject or roles.has_link(s, rule_subject) for s in subjects)
                ):
                    patterns[effect][pattern] = None
            found = _Selection(_any_of(patterns["allow"]), _any_of(patterns["deny"]))
            if len(self._selected) >= _SELECTIONS:
                del self._selected[next(iter(self._selected))]  # the oldest goes
            self._selected[key] = found
        return found


@dataclass(frozen=True)
class _Selection:
    """The rules that may apply to one (subjects, resource, action): one matcher per effect
    (``None``: no such rule)."""

    allow: re.Pattern[str] | None
    deny: re.Pattern[str] | None


def _any_of(patterns: Iterable[str]) -> re.Pattern[str] | None:
    """One regex matching what any of the globs matches, as ``fnmatchcase`` does (its own
    ``translate``: each alternative is anchored and has no capturing group)."""
    parts = [f"(?:{translate(p)})" for p in patterns]
    return re.compile("|".join(parts)) if parts else None


def build(config: Config, projects: Iterable[Project]) -> tuple[Policy, list[Problem]]:
    """The policy of the ConfigMap and the Projects, and what their roles left out.

    Raises ``PolicyError`` when a ConfigMap line does not parse (nothing of it
    is used then: the caller keeps its last good policy).
    """
    rules, problems = parse_csv(config.csv)
    default = config.default.strip()
    if default and (_check_field(default) or "," in default or len(default) > MAX_LINE):
        problems.append(Problem("policy.default", 1, default, "not a role name"))
    if problems:
        raise PolicyError(problems)
    left_out: list[Problem] = []
    for project in projects:
        found, problems = project_lines(project)
        rules.extend(found)
        left_out.extend(problems)
    return Policy(rules=(*_BUILTIN, *rules), default=default), left_out
