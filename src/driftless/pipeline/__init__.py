"""What every front end shares above ``driftless.sync``: plan, diff, inventory, drive, status.

The controller, push mode (``driftless apply``), the CLI and the API server
are thin users of this package; push mode and the controller never import
each other (import-linter contracts in ``pyproject.toml``).

* ``planner`` — ``Planner.plan``: one read-only pass (Project, render,
  dry-run, ownership, orphans) → ``plan.Plan``; given a ``renderers.Renderer``
  (``GitRenderer``, ``LocalRenderer``) and a ``projects.ProjectSource``
  (``ClusterProjects``, ``PermissiveProjects``).
* ``diffs`` — ``plan_diffs``: the one diff of a plan.
* ``inventory`` — where an app's applied objects are remembered
  (``StatusInventory``, ``ConfigMapInventory``) and ``next_inventory``.
* ``drive`` — the one sync step: advance → refresh → health.
* ``health`` — ``plan_health``, ``live_health``, ``done_count`` (``DONE_HEALTH``
  is ``driftless.health``'s).
* ``policy`` and ``status`` — pure decisions: when to sync, retry, supersede
  or terminate; the Application status and requeue after a pass.
* ``health_config`` — custom health checks read from the cluster.
* ``requests`` — what a person asks of an app (sync, rollback, refresh,
  terminate, delete) as patches, and their guarded writes (CLI and server).
* ``config_views`` — what may be shown of a repository credential or cluster
  Secret (CLI lists and server routes): never a secret value.
"""
