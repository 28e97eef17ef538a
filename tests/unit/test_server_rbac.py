"""server.rbac: parsing (hostile lines too), deny wins, globs, project roles, default role."""

from __future__ import annotations

import time

import pytest

from driftless.core.project import Project
from driftless.server import rbac
from driftless.server.rbac import Config, PolicyError, Who

CSV = """
# team A develops its apps; nobody deletes production
p, role:team-a, applications, *, team-a/*, allow
p, role:team-a, applications, delete, team-a/prod-*, deny
p, role:team-a, projects, get, team-a, allow
g, devs, role:team-a
g, alice, role:readonly
p, mallory, *, *, *, deny
g, mallory, role:admin
"""

TEAM_B = Project.model_validate(
    {
        "metadata": {"name": "team-b"},
        "spec": {
            "roles": [
                {
                    "name": "ci",
                    "policies": [
                        "p, proj:team-b:ci, applications, sync, team-b/*, allow",
                        "p, proj:team-b:ci, applications, get, team-b/*",
                        "p, proj:team-b:ci, applications, get, team-a/*, allow",
                        "p, proj:team-b:ci, applications, get, team-*/x, allow",
                        "p, proj:team-b:ci, repositories, get, *, allow",
                        "p, proj:team-b:ci, *, get, team-b/*, allow",
                        "p, role:admin, applications, get, team-b/*, allow",
                        "g, proj:team-b:ci, role:admin",
                        "p, proj:team-b:ci, applications",
                    ],
                    "groups": ["b-devs"],
                }
            ]
        },
    }
)


def _policy(csv: str = CSV, default: str = "") -> rbac.Policy:
    policy, _ = rbac.build(Config(csv, default), [TEAM_B])
    return policy


DEV = Who("bob", ("devs",), "oidc")
TOKEN = Who("proj:team-b:ci", (), "token")


@pytest.mark.parametrize(
    ("who", "resource", "action", "obj", "allowed"),
    [
        (DEV, "applications", "sync", "team-a/web", True),
        (DEV, "applications", "get", "team-a/prod-web", True),
        (DEV, "applications", "delete", "team-a/prod-web", False),  # deny wins
        (DEV, "applications", "delete", "team-a/web", True),
        (DEV, "applications", "get", "team-b/web", False),  # nothing applies
        (DEV, "projects", "get", "team-a", True),
        (DEV, "clusters", "get", "in-cluster", False),
        (Who("alice", (), "oidc"), "clusters", "get", "in-cluster", True),  # readonly: get only
        (Who("alice", (), "oidc"), "applications", "sync", "team-a/web", False),
        (Who("mallory", (), "oidc"), "applications", "get", "team-a/web", False),  # deny > admin
        (Who("admin", (), "local"), "clusters", "delete", "x", True),
        (Who("admin", (), "none"), "applications", "override", "a/b", True),
        (Who("admin", (), "oidc"), "applications", "get", "a/b", False),  # an SSO "admin" is not
        (TOKEN, "applications", "sync", "team-b/web", True),
        (TOKEN, "applications", "get", "team-b/web", True),  # 5 fields: allow
        (TOKEN, "applications", "get", "team-a/web", False),  # another project's line: ignored
        (TOKEN, "applications", "get", "team-a/x", False),
        (TOKEN, "repositories", "get", "https://git/x", False),
        (TOKEN, "applications", "delete", "team-b/web", False),
        (Who("carol", ("b-devs",), "oidc"), "applications", "sync", "team-b/x", True),
        (Who("proj:team-b:ci", (), "oidc"), "applications", "sync", "team-b/x", False),
        (Who("eve", ("role:admin",), "oidc"), "applications", "get", "a/b", False),
    ],
)
def test_allows(who: Who, resource: str, action: str, obj: str, allowed: bool) -> None:
    assert _policy().allows(who, resource, action, obj) is allowed


def test_default_role_applies_to_people_not_tokens() -> None:
    policy = _policy(default="role:readonly")
    assert policy.allows(Who("nobody", (), "oidc"), "applications", "get", "team-b/web")
    assert not policy.allows(Who("nobody", (), "oidc"), "applications", "sync", "team-b/web")
    assert not policy.allows(TOKEN, "applications", "get", "team-a/web")
    assert not _policy().allows(Who("nobody", (), "oidc"), "applications", "get", "team-b/web")


@pytest.mark.parametrize(
    ("obj", "pattern", "allowed"),
    [
        ("team-a/web", "*", True),  # * crosses /, as in Argo CD
        ("team-a/web", "*/*", True),
        ("team-a/web", "team-?/web", True),
        ("team-a/web", "team-[ab]/w*", True),
        ("team-a/web", "team-b/*", False),
        ("team-a/web", "team-a", False),
        ("team-a/web", "Team-a/*", False),  # case-sensitive
    ],
)
def test_globs(obj: str, pattern: str, allowed: bool) -> None:
    policy = _policy(f"p, u, applications, get, {pattern}, allow\n")
    assert policy.allows(Who("u", (), "oidc"), "applications", "get", obj) is allowed


def test_project_lines_left_out_are_reported() -> None:
    _, problems = rbac.build(Config(CSV), [TEAM_B])
    reported = {(p.line, p.message.split(" ")[0]) for p in problems}
    assert reported == {(3, "names"), (4, "names"), (5, "names"), (6, "names"),
                        (7, "the"), (8, "only"), (9, "a")}  # fmt: skip
    assert all(p.source == "project team-b role ci" for p in problems)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("p, u, applications, get", "a p line has 6 fields"),
        ("p, u, applications, get, a/b, allow, extra", "a p line has 6 fields"),
        ("p, u, applications, get, a/b, maybe", "unknown effect"),
        ("p, u, application, get, a/b, allow", "unknown resource"),
        ("p, u, applications, gett, a/b, allow", "unknown action"),
        ("p, , applications, get, a/b, allow", "an empty field"),
        ("p, u\x00, applications, get, a/b, allow", "a control character"),
        ("g, u", "a g line has 3 fields"),
        ("x, u, role:admin", "a line starts with p or g"),
        ("p, u, applications, get, " + "a" * 2000 + ", allow", "longer than"),
        ('p, "u, role:admin", applications, get, a/b, allow', "a p line has 6 fields"),
    ],
)
def test_hostile_lines_are_refused(line: str, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        rbac.build(Config(f"p, u, applications, get, */*, allow\n{line}\n"), [])
    (problem,) = caught.value.problems
    assert problem.line == 2
    assert problem.message.startswith(message)
    assert "line 2" in str(caught.value)


def test_too_many_lines_and_bad_default() -> None:
    with pytest.raises(PolicyError, match="more than"):
        rbac.build(Config("#\n" * (rbac.MAX_LINES + 1)), [])
    with pytest.raises(PolicyError, match=r"policy\.default"):
        rbac.build(Config("", "role:a, role:admin"), [])


def test_globbed_resource_and_action_must_name_something() -> None:
    policy = _policy("p, u, app*, s*, */*, allow\n")
    assert policy.allows(Who("u", (), "oidc"), "applications", "sync", "a/b")
    with pytest.raises(PolicyError, match="unknown resource"):
        rbac.build(Config("p, u, zz*, get, */*, allow\n"), [])


def test_duplicates_and_role_cycles() -> None:
    policy = _policy(
        "p, r1, applications, get, */*, allow\n" * 2 + "g, r1, r2\ng, r2, r1\ng, u, r2\n"
    )
    assert policy.allows(Who("u", (), "oidc"), "applications", "get", "a/b")
    assert not policy.allows(Who("u", (), "oidc"), "applications", "sync", "a/b")


# Rules naming apps by pattern (ordinary in Argo CD), globs crossing "/", denies, several
# subjects: the decisions must be Casbin's, object by object.
APP_RULES = """
p, role:team-a, applications, sync, team-[ab]/*, allow
p, role:team-a, applications, get, team-b/web-*, allow
p, role:team-a, applications, get, team-b/web-secret*, deny
p, devs, applications, *, */api, allow
p, devs, applications, sync, team-a/*/x, deny
p, bob, applications, get, t*m-c/?eb, allow
p, bob, applications, delete, *, deny
p, b-devs, applications, s*, team-c/*, allow
p, role:readonly, applications, sync, team-c/web-*, allow
p, role:readonly, applications, get, team-c/web-9, deny
p, devs, applications, get, */*-secret*, deny
p, devs, applications, get, *-c/*w*b*, allow
"""


@pytest.mark.parametrize("default", ["", "role:readonly"])
def test_decisions_are_casbins_object_by_object(default: str) -> None:
    csv = CSV + APP_RULES
    objects = ["team-a/web", "team-a/prod-web", "team-b/web", "team-b/web-1", "team-b/web-secret",
               "team-b/prod-x", "team-a/api", "team-c/api", "team-c/web", "team-c/web-1",
               "team-c/web-9", "team-a/y/x", "team-a/web/x", "x/y/z", "team-a", "",
               "team-c/a/wxbx", "team-c/api-secret-2"]  # fmt: skip
    people = (
        DEV,
        TOKEN,
        Who("bob", ("devs", "b-devs"), "oidc"),
        Who("carol", ("b-devs",), "oidc"),
        Who("alice", (), "oidc"),
        Who("admin", (), "local"),
        Who("mallory", (), "oidc"),
    )
    reference = _policy(csv, default)._enforcer
    policy = _policy(csv, default)
    for who in people:
        for action in ("get", "sync", "delete"):
            for obj in objects:
                expected = bool(
                    reference.enforce(policy.subjects(who), "applications", action, obj)
                )
                assert policy.allows(who, "applications", action, obj) is expected, (
                    who,
                    action,
                    obj,
                )


def test_a_list_of_10000_apps_asks_casbin_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """48 project rules and one rule naming apps by pattern: the 10,000 rows of a list are
    decided in well under a second, no Casbin call per row (it was one each: ~4.7 s)."""
    csv = "".join(f"p, role:team-{n}, applications, *, team-{n}/*, allow\n" for n in range(48))
    csv += "p, role:team-3, applications, get, team-4/web-*, allow\ng, devs, role:team-3\n"
    policy = _policy(csv)
    calls = 0
    enforce = policy._enforcer.enforce

    def counted(*args: object) -> object:
        nonlocal calls
        calls += 1
        return enforce(*args)

    monkeypatch.setattr(policy._enforcer, "enforce", counted)
    objects = [f"team-{i % 10}/{('web', 'api')[i // 10 % 2]}-{i:05d}" for i in range(10_000)]
    started = time.monotonic()
    seen = [obj for obj in objects if policy.allows(DEV, "applications", "get", obj)]
    elapsed = time.monotonic() - started
    assert calls == 0
    assert len(seen) == 1_000 + 500  # all of team-3, team-4's web-*
    assert elapsed < 2.0


def test_selections_kept_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rbac, "_SELECTIONS", 3)
    policy = _policy()
    for n in range(10):
        assert not policy.allows(Who(f"user-{n}", (), "oidc"), "applications", "get", "a/b")
    assert len(policy._selected) == 3
    assert policy.allows(DEV, "applications", "sync", "team-a/web")
