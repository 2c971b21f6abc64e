"""The process state that outlives each ``DatabaseRuntime``: one object, handed from every
runtime to the one that replaces it (``runtime.state``).

    state = current_runtime().state
    state.tenant_registry        # the open tenants (django_cfg.tenants.registry), or None
    state.read_only_reasons      # alias -> why writes to it are refused now (a moved tenant)
    state.server_locks           # (alias, lock name) held by a thread, where no server holds it

A runtime is replaced, never changed; what does change while the process runs is here, each
field owned (written) by the one module named beside it, under that module's own lock.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from django_cfg.runtime.operation_counts import OperationCounts

__all__ = ["DjangoHooks", "ProcessState"]


class DjangoHooks(Protocol):
    """What the runtime asks of ``django_cfg.patches``, the one module that changes Django's
    objects; given to the runtime by ``AppConfig.ready`` (``install_django_hooks``)."""

    def add_connection(self, alias: str, settings_dict: dict[str, Any]) -> None:
        """Make ``alias`` a database of ``django.db.connections``."""

    def remove_connection(self, alias: str) -> None:
        """Forget ``alias``'s connection settings."""

    def follow(self, runtime: Any) -> None:
        """Apply the patches of Django the topology of ``runtime`` (the ``DatabaseRuntime``
        about to be published) needs, and undo the others."""


# Written out, not a dataclass: defining a dataclass runs its methods' generated source through
# exec(), ~2-4M instructions at every startup (issue 23).
class ProcessState:
    """Everything of the process that a rebuild keeps (see the module docstring)."""

    def __init__(self) -> None:
        self.hooks: DjangoHooks | None = None
        """``django_cfg.patches`` once the app is ready (``install_django_hooks``)."""
        self.patches: Any = None
        """``django_cfg.patches``: its record of what it changed in Django (one source of truth)."""
        self.closed_here: threading.local = threading.local()
        """``runtime.added_databases``: per thread, the ``removals`` count up to which this thread
        closed its connections to removed databases (``upto``; ``DatabaseRuntime.removals``)."""
        self.removed_aliases: set[str] = set()
        """Every alias removed at least once in this process (``runtime.removed_since``, for a
        thread that missed more removals than a runtime lists): grows by distinct aliases only.
        Added to under ``runtime.building``."""
        self.tenant_connections: threading.local = threading.local()
        """``tenants.registry``: per thread (its ``__dict__``), each tenant database it was
        routed to -> the ``removals`` count when it last checked that its connection is
        current."""
        self.tenant_sweeps: threading.local = threading.local()
        """``tenants.registry``: per thread, the ``removals`` count at which it last found every
        tenant connection it holds current (``upto``): a tenant first routed to after that checks
        its own connection only."""
        self.tenant_registry: Any = None
        """``tenants.registry``: the ``TenantRegistry`` of the tenants setting, made on first
        use."""
        self.read_only_reasons: dict[str, str] = {}
        """``routing.read_only``: alias -> why its writes are refused now (a tenant being
        moved)."""
        self.server_locks: set[tuple[str, str]] = set()
        """``runtime.server_locks``: (alias, lock name) held by a thread of this process, for the
        databases whose server holds no lock (in-memory SQLite, other vendors)."""
        self.server_locks_released: threading.Condition = threading.Condition()
        """``runtime.server_locks``: guards ``server_locks``; notified when one is released."""
        self.operations: OperationCounts = OperationCounts()
        """Per-alias counts of routing, failover, failures and tenants (``runtime.operation_counts``
        names each field's owner); exported by ``django_cfg.operations``."""
        self.health_lock: threading.Lock = threading.Lock()
        """``operations.health``: guards ``health_results`` and ``health_in_flight``."""
        self.health_results: dict[str, Any] = {}
        """``operations.health``: alias -> the last answer of its probe (``ServerHealth``)."""
        self.health_in_flight: dict[str, Any] = {}
        """``operations.health``: alias -> (when its probe started, an Event set once answered)."""
        self.metrics_lock: threading.Lock = threading.Lock()
        """``operations.prometheus_export``: guards ``metrics_export`` (one flush at a time)."""
        self.metrics_export: dict[Any, Any] = {}
        """``operations.prometheus_export``, multiprocess mode only: this process's
        prometheus_client metric objects (by name) and what it added to them so far (by name and
        labels): the next flush adds the rest."""
