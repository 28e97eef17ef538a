"""``driftless import``'s converters: Argo CD and Flux objects -> driftless objects.

``convert.convert_all`` is the entry point; ``argo``, ``flux`` and ``secrets``
each convert one family of kinds; ``report`` holds what they return (the
objects made and the ``Finding`` list of everything that had no equivalent).
None of them does I/O: the command (``cli.import_cmd``) reads files or the
cluster and prints or applies the result.
"""
