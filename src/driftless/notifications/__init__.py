"""Notifications: tell people and forges when an Application syncs, degrades or drifts.

``message`` is the contract between the engine (``engine``, ``triggers``,
``templates``, ``context``, ``model``) and the senders (``services``,
``delivery``). The controller wires the engine in; nothing below the
controller imports this package.
"""
