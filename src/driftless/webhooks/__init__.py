"""Git webhooks: a forge tells driftless about a push, and the apps following it re-check now.

* ``forges`` (pure): each forge's signature check and push payload, read
  into ``Push`` / ``Ping`` / ``Ignored``.
* ``matching`` (pure): which Applications a push refreshes.
* ``secrets``: the shared secrets, from the Secret ``driftless-webhooks``.
* ``coalesce``: one refresh round in flight per repository; pushes arriving
  meanwhile make one trailing round.
* ``receiver``: the HTTP side (Starlette routes), the ``Refresher`` protocol
  a host implements (``driftless server`` patches the refresh annotation,
  ``driftless controller --webhook-address`` enqueues the apps itself).

A sibling of ``driftless.pipeline`` and ``driftless.notifications``: it
imports neither; the controller and the server wire it.
"""
