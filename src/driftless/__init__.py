"""driftless: pull-based GitOps continuous delivery for Kubernetes."""

from driftless.core import lean_imports

__version__ = "0.1.0"

# Before any module of the package imports kubernetes_asyncio or cel: their eager
# __init__s would cost every controller ~90 MiB of modules it never uses.
lean_imports.install()
