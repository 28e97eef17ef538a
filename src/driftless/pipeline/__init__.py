"""What every front end shares above ``driftless.sync``: plan, diff, inventory, drive, status.

The controller, push mode (``driftless apply``), the CLI and the API server
are thin users of this package; none of them imports another.
"""
