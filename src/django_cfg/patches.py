"""Every change django_cfg makes to Django's own objects, in one place.

    # django_cfg/apps.py (the package does this; a project writes nothing)
    install_django_hooks(patches)   # AppConfig.ready(): the runtime calls follow() per rebuild
    patches.install(topology)       # what follow() does when the topology needs other patches
    patches.uninstall()             # Django's objects as they were

Patches of Django
-----------------
Each is applied by ``install()`` only when the project needs it, and only here;
``uninstall()`` restores Django's objects, and ``install()`` may run again (tests that override
settings). ``tests/patches/test_patches.py`` fails when a Django release changes an internal a
patch relies on, and when a module other than this one assigns to an attribute of Django's objects.
Checked on Django 5.2 and 6.1 (``pyproject.toml``: ``django>=5.2,<6.2``).

1. ``Collector`` in ``django.db.models.base`` and ``django.db.models.query`` is rebound to
   ``CrossDatabaseCollector``. Needed when: a ForeignKey crosses databases. Why no public hook:
   ``Model.delete()`` and ``QuerySet.delete()`` instantiate the module-level name ``Collector``;
   Django has no setting, signal or method to choose the deletion collector, and ``on_delete``
   must run on the related model's database (a ``pre_delete`` receiver sees rows one by one,
   after PROTECT/RESTRICT were checked on one database only).
2. ``ForeignKey.db_constraint`` is set to False on each crossing ForeignKey (the user's field
   objects; restored by ``uninstall()``). Needed when: a ForeignKey crosses databases. Why: no
   database can hold a constraint on a table that lives on another one; Django reads the
   attribute from the field when it writes migrations and schema, and offers no hook to supply
   it per field. ``dropped_constraints()`` lists them (``makemigrations`` prints it).
3. ``NestedObjects`` in ``django.contrib.admin.utils`` is rebound to
   ``admin.delete_page.CrossDatabaseNestedObjects``. Needed when: the admin is installed and a
   ForeignKey crosses.
   Why: ``get_deleted_objects()`` (the delete view and the "delete selected" action) instantiates
   the module-level name; the public ``ModelAdmin.get_deleted_objects()`` would need code in
   every user's ``ModelAdmin``.
4. ``ChangeList.apply_select_related`` (``django.contrib.admin.views.main``) is wrapped: Django's
   result goes through ``admin.changelist.follow_within_databases()``, which returns it as it
   is unless it JOINs across databases. Needed when: as 3. Why: the changelist builds its query
   in ``ChangeList.get_queryset()`` with no hook between ``select_related()`` and the query;
   ``ModelAdmin.get_changelist()`` may return a project's own ``ChangeList`` subclass, and a
   subclass of ours in its place would show in ``repr()`` (Django's own tests check it).
5. Error-explaining execute wrappers are put first in ``connection.execute_wrappers`` of each
   new connection (``connection_created``) to a read-only database or to a database that lacks
   some model's table, and the statement timer of the metrics (``routing.query_metrics``).
   Needed when: a database is read-only, or there is more than one, or
   ``DJANGO_CFG_QUERY_METRICS`` is on (the default with prometheus-client installed). Why:
   Django's public ``connection.execute_wrapper()`` is a context manager that appends a wrapper
   and pops the last one on exit; a wrapper for the connection's lifetime has no public API.
   Put first (outermost), it leaves the user's ``with execute_wrapper()`` blocks popping their
   own wrappers. Nothing of Django is replaced: only the list is extended. A read-only
   PostgreSQL database behind a transaction pooler also gets a wrapper that runs a statement
   outside ``atomic()`` in a read-only transaction (``routing.read_only``).
6. ``connections.settings`` gains or loses an entry when a database is added or removed at run
   time (``runtime.added_databases.add_database`` / ``remove_database``: ``add_connection`` and
   ``remove_connection`` here). Needed when: the project calls them (tenants, tests). Why no
   public hook: Django reads ``DATABASES`` once into ``ConnectionHandler.settings`` and has no
   call to add an alias; the entry gets Django's defaults from its own ``configure_settings``,
   as at startup, and goes into the same dict (``settings.DATABASES``) the handler reads.

7. ``BaseDatabaseWrapper.connect`` is wrapped (``django.db.backends.base.base``; no backend
   overrides it). Needed when: a database has replicas. Why: a connection that cannot be made
   must name its database in the error (psycopg says "connection to server at ... failed"),
   open the primary's breaker so that its share of reads goes to the replicas, and drop this
   context's pending read-your-writes marker (``django_cfg.replicas.outage``); Django sends a
   signal when a connection is made (``connection_created``) but none when it fails, and the
   failure is raised inside ``ensure_connection()`` before any execute wrapper exists.

8. ``ConnectionHandler.__getitem__`` (``django.db.connections[alias]``; Django defines it on
   ``BaseConnectionHandler``, the patch is an attribute of the subclass, deleted again by
   ``uninstall()``) is wrapped. Needed when: the project has tenants. Why no public hook:
   ``connections[alias]`` is how ``transaction.atomic(using=...)``, ``.using(...)`` and user
   code reach a database, and it only knows the aliases of ``connections.settings``; a tenant's
   alias is added there at its first routed query. So ``atomic(using="tenant_acme")`` as the
   first use of acme in a process (a Celery task, a command) raised ``ConnectionDoesNotExist``.
   Wrapped, a missing ``tenant_<name>`` (or ``tenant_<name>.replica``) alias of a tenant the
   registry knows is opened as its first routed query would, then looked up again; an unknown
   tenant's alias raises Django's ``ConnectionDoesNotExist`` saying where tenants come from.
   Only the miss path differs: an alias already there is returned as before.

9. ``BaseDatabaseWrapper.on_commit`` (``transaction.on_commit()`` calls it; no backend
   overrides it) is wrapped. Needed when: the project has tenants. Why no public hook: a
   callback registered inside ``use_tenant("acme")`` in a transaction that commits after that
   block ended (an outer ``atomic()``) ran with the tenant of the commit, or none; Django
   stores the callable as given and has no signal or hook around its call. Wrapped, a callback
   registered inside an atomic block is stored as ``tenants.context.keeping_tenant(func)``,
   which runs it as the tenant of the registration (a callback run at once is not wrapped).

10. ``is_usable``, ``close_if_health_check_failed`` and the ``pool`` property of PostgreSQL's
   ``DatabaseWrapper`` (``django.db.backends.postgresql.base``; the replica backend inherits
   them) are replaced or wrapped. Needed when: a PostgreSQL database keeps connections
   (``CONN_MAX_AGE``) or pools them. Why: a kept connection to a hung server (SIGSTOPped, a
   frozen disk) waits for the whole hang: its kernel acknowledges every packet, so keepalives
   and ``tcp_user_timeout`` never fire, and the server's own timeouts do not run. Django's
   health check (``SELECT 1`` in ``is_usable()``, ``CONN_HEALTH_CHECKS``) and the pool's check
   (Django passes ``check=ConnectionPool.check_connection`` itself, so ``OPTIONS["pool"]``
   cannot give another: a duplicate keyword) have no client-side deadline, and Django has no
   hook for either. Replaced, the check waits at most the database's ``connect_timeout``
   (``state.answer_deadline``): ``is_usable()`` is False after it; the health check before a
   statement raises ``OperationalError`` naming the database instead of reconnecting to the
   server that just did not answer (a second timeout); the pool Django made gets the bounded
   check in place of ``check_connection`` (psycopg_pool keeps it in ``_check``; a ``check`` of
   the project's own, which Django 6.0+ takes from ``OPTIONS["pool"]``, is left as it is).

11. The receivers ``reset_queries`` and ``close_old_connections`` of ``django.db`` are
   disconnected from ``request_started`` / ``request_finished`` and receivers of this module
   connected in their place, under the same lookup key (``dispatch_uid`` = Django's
   ``id(receiver)``): the test client's ``request_started.disconnect(close_old_connections)``
   still disconnects them. Needed when: the project has tenants. Why no public hook: Django's
   two functions visit every connection wrapper of the thread on every request
   (``connections.all(initialized_only=True)``: a lookup per configured alias), so a worker
   that served 1,000 tenants paid for 1,000 aliases per request. Ours visit the wrappers this
   thread reached through ``connections[alias]`` (patch 8's wrapper notes them) or connected
   since the last request, and the connections whose ``CONN_MAX_AGE`` ran out meanwhile (a heap
   by ``close_at``): what Django's would close, they close. A thread's first visit after they
   are installed is Django's full one. ``uninstall()`` connects Django's back. Not seen: a
   wrapper object a project keeps and uses across requests without ``connections[alias]``
   (its errors or autocommit are checked when next reached through ``connections``, or when
   its age runs out).

12. ``BaseHandler.make_view_atomic`` (``django.core.handlers.base``) is replaced by one that
   wraps the view in ``transaction.atomic(using=alias)`` for the same aliases in the same order,
   visiting only those that may have ``ATOMIC_REQUESTS`` set: every database of settings, and
   the databases added at run time (tenants) whose settings had it when added. Needed when: the
   project has tenants. Why no public hook: Django's visits every entry of
   ``connections.settings`` on every request, so with 1,000 tenants open a request paid for
   1,000 aliases (+17% instructions per SQLite request, RESULTS.md, issue 23). Not seen: setting
   ``ATOMIC_REQUESTS`` in the settings dict of a database added at run time after it was added.

Not patches (public hooks, or classes the package owns):

- Replica failover: ``django_cfg.backends.replica_postgresql`` is the package's own
  ``DatabaseWrapper`` subclass; it makes cursors of its own class (``make_cursor``,
  ``make_debug_cursor``), which rerun a statement on the primary when the replica connection dies.
- ``DjangoConfig``'s metaclass subclasses ``type(BaseModel)``, pydantic's model metaclass reached
  through the public ``BaseModel`` (``pydantic._internal`` is imported for type checkers only);
  pydantic has no option for un-annotated field overrides.
- The router is an ordinary entry of ``DATABASE_ROUTERS``, called by Django's router loop.
"""

from __future__ import annotations

import functools
import heapq
import threading
import time
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.db.models import ForeignKey
from django.db.utils import ConnectionHandler, OperationalError
from django.utils.connection import ConnectionDoesNotExist

from django_cfg.relations.crossing import cross_database_relations
from django_cfg.routing.query_metrics import query_metrics_enabled
from django_cfg.runtime.runtime import DatabaseRuntime, current_runtime, thread_connection
from django_cfg.settings.routers import router_installed
from django_cfg.settings.url import base_engine, shown_servers
from django_cfg.state.answer_deadline import answered_within, check_deadline
from django_cfg.state.topology import TENANT_HOME, Topology

if TYPE_CHECKING:
    from django_cfg.relations.crossing import CrossDatabaseRelation
    from django_cfg.runtime.process_state import ProcessState

# What a patch puts in place is imported when the patch is installed, or when a connection is
# made that needs it: a project with no relation across databases never imports the
# collector, the admin's pages or the tenant code (issue 23: startup imports what it uses).

__all__ = [
    "Applied",
    "add_connection",
    "dropped_constraints",
    "follow",
    "install",
    "installed",
    "remove_connection",
    "uninstall",
    "wraps_connections",
]

_WRAP_CONNECTIONS = "django_cfg.patches.wrap_new_connection"
_TOUCH_CONNECTIONS = "django_cfg.patches.touch_new_connection"


class FollowedAliases:
    """The aliases of ``connections.settings``, in its order, for which ``holds(alias, entry,
    runtime)`` is true, kept by ``follow``: counted over every database for a compiled runtime,
    then changed only by the one alias each runtime derived from it adds or removes (opening a
    tenant visits no other database: issue 23, point 1).

        candidates = FollowedAliases(_may_have_atomic_requests)
        candidates.follow(runtime)          # under the runtime's rebuild, before it is published
        aliases = candidates.snapshot()     # a request, in any thread: a list, or None
        if candidates:                      # any alias holds
    """

    __slots__ = ("_aliases", "_holds")

    def __init__(self, holds: Callable[[str, Mapping[str, Any], DatabaseRuntime], bool]) -> None:
        self._holds = holds
        self._aliases: dict[str, None] | None = None  # an ordered set; None: not counted yet

    def follow(self, runtime: DatabaseRuntime) -> None:
        from django.db import connections

        every = connections.settings
        change = runtime.derived_for
        if change is None or self._aliases is None:
            self._aliases = dict.fromkeys(
                alias for alias, entry in every.items() if self._holds(alias, entry, runtime)
            )
            return
        alias, added = change
        if not added:
            self._aliases.pop(alias, None)
        elif self._holds(alias, every.get(alias) or {}, runtime):
            self._aliases[alias] = None

    def snapshot(self) -> list[str] | None:
        """The aliases now, listed in one C call (another thread may follow meanwhile); None:
        not counted yet (every database counts)."""
        aliases = self._aliases
        return None if aliases is None else list(aliases)

    def __bool__(self) -> bool:
        return bool(self._aliases)


# Written out, not a dataclass: defining a dataclass runs its methods' generated source through
# exec(), ~2-4M instructions at every startup (issue 23).
class Applied:
    """What ``install()`` changed, so that ``uninstall()`` can put it back; kept on the
    runtime's process state (``current_runtime().state.patches``)."""

    def __init__(self) -> None:
        self.names: dict[tuple[ModuleType | type, str], Any] = {}  # -> Django's value
        self.constraints: list[CrossDatabaseRelation] = []
        self.wraps_connections: bool = False
        self.followed: tuple[Any, ...] | None = None
        """What of the topology the patches were last installed for (``follow``); None: unknown."""
        self.atomic_candidates = FollowedAliases(_may_have_atomic_requests)
        """Patch 12: the aliases whose ``ATOMIC_REQUESTS`` a request checks."""
        self.keeping = FollowedAliases(_keeps_postgresql_connection)
        """Patch 10: the aliases whose settings keep PostgreSQL connections."""
        self.request_receivers: int = 0
        """Patch 11: how many times its receivers were connected (0: Django's are); a thread whose
        ``touched.since`` differs makes Django's full visit once."""
        self.touched: threading.local = threading.local()
        """Patches 8 and 11, per thread (its ``__dict__``): alias -> the wrapper reached through
        ``connections[alias]`` or connected since this thread's last ``request_started``."""
        self.aging: threading.local = threading.local()
        """Patch 11, per thread: ``heap`` of (close_at, alias) of open connections with a
        ``CONN_MAX_AGE``, ``pushed`` (alias -> close_at in the heap), ``since``."""


_INHERITED = object()  # the patched class only inherited the attribute: deleted on uninstall


def _applied(state: ProcessState | None = None) -> Applied:
    state = state if state is not None else current_runtime().state
    if state.patches is None:
        state.patches = Applied()
    applied: Applied = state.patches
    return applied


def follow(runtime: DatabaseRuntime) -> None:
    """The patches ``runtime`` needs (``DjangoHooks.follow``, called by each rebuild before the
    runtime is published): installed for the relations that cross databases and for primaries
    with replicas when the router is installed, undone when it is not (the bounded health
    checks, patch 10, stay whenever a PostgreSQL database keeps connections: they do not
    route). Redone only when an app changed its home, a primary gained or lost its replicas,
    the router came or went, or connections started or stopped being kept (adding a database
    that no app lives on and that is no replica costs nothing here)."""
    from django.conf import settings

    applied = _applied(runtime.state)
    in_use = router_installed(getattr(settings, "DATABASE_ROUTERS", ()))
    applied.keeping.follow(runtime)
    applied.atomic_candidates.follow(runtime)
    followed = (
        in_use,
        tuple(sorted(runtime.homes.items())),
        runtime.replicated,
        wraps_connections(runtime.topology),
        bool(applied.keeping),
    )
    if applied.followed == followed:
        return
    install(runtime.topology, applied, routed=in_use, keeping=bool(applied.keeping))
    applied.followed = followed


def install(
    topology: Topology,
    applied: Applied | None = None,
    *,
    routed: bool = True,
    keeping: bool | None = None,
) -> None:
    """Apply the patches ``topology`` needs, and undo those it no longer needs (idempotent);
    without the router (``routed=False``) only those that do not route (patch 10, needed when
    ``keeping``: whether a PostgreSQL database keeps connections; None: read from settings).

    It goes straight from what is applied to what is needed: a patch needed before and after
    stays in place throughout (a delete running in another thread meanwhile still gets the
    cross-database collector and no constraint comes back).
    """
    applied = applied if applied is not None else _applied()
    applied.followed = None  # installed by hand: the next rebuild decides again
    relations = cross_database_relations(topology) if routed else ()
    names = _routing_names(topology, relations, applied) if routed else {}
    if keeping if keeping is not None else keeps_postgresql_connections():
        names.update(_bounded_health_checks(applied))
    for (module, name), original in list(applied.names.items()):
        if (module, name) not in names:
            _restore(module, name, original)
            del applied.names[(module, name)]
    for (module, name), replacement in names.items():
        applied.names.setdefault((module, name), vars(module).get(name, _INHERITED))
        setattr(module, name, replacement)
    _set_constraints(relations, applied)
    _wrap_connections(routed and wraps_connections(topology), applied)
    _bound_request_receivers(routed and TENANT_HOME in topology.homes.values(), applied)


def _routing_names(
    topology: Topology, relations: tuple[CrossDatabaseRelation, ...], applied: Applied
) -> dict[tuple[ModuleType | type, str], Any]:
    """Patches 1, 3, 4, 7, 8 and 9 as ``topology`` needs them: (owner, name) -> replacement."""
    names: dict[tuple[ModuleType | type, str], Any] = {}
    if relations:
        names.update(_cross_database_deletion())
        if apps.is_installed("django.contrib.admin"):
            names.update(_cross_database_admin(applied))
    if any(role.replica_of is not None for role in topology.roles.values()):
        names.update(_connect_reports(applied))
    if TENANT_HOME in topology.homes.values():
        names.update(_tenant_connections(applied))
        names.update(_on_commit_keeps_tenant(applied))
        names.update(_atomic_requests_of_candidates(applied))
    return names


def wraps_connections(topology: Topology) -> bool:
    """Whether new connections of ``topology`` need execute wrappers (patch 5): explaining
    errors, or timing statements (``DJANGO_CFG_QUERY_METRICS``)."""
    return (
        len(topology.aliases) > 1
        or any(role.read_only for role in topology.roles.values())
        or query_metrics_enabled()
    )


def uninstall(applied: Applied | None = None) -> None:
    """Give Django its objects back (idempotent).

    Connections opened while installed keep their error-explaining wrappers: they only reword
    errors, and other threads' connections are not reachable from here.
    """
    applied = applied if applied is not None else _applied()
    applied.followed = None
    for (module, name), original in applied.names.items():
        _restore(module, name, original)
    applied.names.clear()
    _set_constraints((), applied)
    _wrap_connections(False, applied)
    _bound_request_receivers(False, applied)


def _restore(owner: ModuleType | type, name: str, original: Any) -> None:
    if original is _INHERITED:
        delattr(owner, name)
    else:
        setattr(owner, name, original)


def installed() -> dict[str, Any]:
    """What is changed now: ``{"django.db.models.base.Collector": CrossDatabaseCollector, ...}``,
    and ``"django.db.backends.signals.connection_created"`` when new connections get wrappers."""
    applied = _applied()
    changed = {_qualified(owner, name): getattr(owner, name) for owner, name in applied.names}
    if applied.wraps_connections:
        changed["django.db.backends.signals.connection_created"] = _wrap_new_connection
    if applied.request_receivers:
        changed["django.db.reset_queries"] = _reset_queries
        changed["django.db.close_old_connections"] = _close_old_connections
    return changed


def dropped_constraints() -> tuple[CrossDatabaseRelation, ...]:
    """The crossing ForeignKeys whose database constraint ``install()`` dropped (patch 2)."""
    return tuple(_applied().constraints)


def _kept_in_place(
    applied: Applied, owner: ModuleType | type, *names: str
) -> dict[tuple[ModuleType | type, str], Any]:
    """An installed patch's replacements, as they are in place (empty: not installed), so that
    ``install()`` running again keeps them rather than wrapping Django's objects twice."""
    if (owner, names[0]) not in applied.names:
        return {}
    return {(owner, name): vars(owner)[name] for name in names}


def _qualified(owner: ModuleType | type, name: str) -> str:
    if isinstance(owner, type):
        return f"{owner.__module__}.{owner.__qualname__}.{name}"
    return f"{owner.__name__}.{name}"


# 1. Deletion across databases ------------------------------------------------------------------


def _cross_database_deletion() -> dict[tuple[ModuleType | type, str], Any]:
    """``Model.delete()`` and ``QuerySet.delete()`` build a ``CrossDatabaseCollector``."""
    import django.db.models.base
    import django.db.models.query

    from django_cfg.relations.collector import CrossDatabaseCollector

    return {
        (django.db.models.base, "Collector"): CrossDatabaseCollector,
        (django.db.models.query, "Collector"): CrossDatabaseCollector,
    }


# 2. No database constraint across databases ----------------------------------------------------


def _set_constraints(relations: tuple[CrossDatabaseRelation, ...], applied: Applied) -> None:
    """No constraint on the crossing ForeignKeys; the user's back on those that stopped crossing."""
    fields = {relation.field for relation in relations}
    for relation in list(applied.constraints):
        if relation.field not in fields:
            relation.field.db_constraint = True  # type: ignore[attr-defined]
            applied.constraints.remove(relation)
    for relation in relations:
        fk = relation.field
        if isinstance(fk, ForeignKey) and getattr(fk, "db_constraint", False):
            fk.db_constraint = False  # type: ignore[attr-defined]
            applied.constraints.append(relation)


# 3, 4. The admin -------------------------------------------------------------------------------


def _cross_database_admin(applied: Applied) -> dict[tuple[ModuleType | type, str], Any]:
    """The admin's delete pages collect across databases; changelists JOIN within one."""
    import django.contrib.admin.utils
    from django.contrib.admin.views.main import ChangeList

    from django_cfg.admin.delete_page import CrossDatabaseNestedObjects

    key = (ChangeList, "apply_select_related")
    django_method = applied.names.get(key, vars(ChangeList)["apply_select_related"])
    return {
        (django.contrib.admin.utils, "NestedObjects"): CrossDatabaseNestedObjects,
        key: _select_related_within_databases(django_method),
    }


@functools.cache  # one wrapper per Django method: install() after uninstall() puts the same back
def _select_related_within_databases(django_method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(django_method)
    def apply_select_related(self: Any, qs: Any) -> Any:
        # Imported by the first changelist, not at startup (issue 23).
        from django_cfg.admin.changelist import follow_within_databases

        return follow_within_databases(django_method(self, qs), self.list_display)

    return apply_select_related


# 5. Execute wrappers for a connection's lifetime -----------------------------------------------


def _wrap_connections(needed: bool, applied: Applied) -> None:
    if needed and not applied.wraps_connections:
        connection_created.connect(_wrap_new_connection, dispatch_uid=_WRAP_CONNECTIONS)
    elif not needed and applied.wraps_connections:
        connection_created.disconnect(dispatch_uid=_WRAP_CONNECTIONS)
    applied.wraps_connections = needed


def _wrap_new_connection(sender: Any, connection: BaseDatabaseWrapper, **_: Any) -> None:
    """``connection_created``: reword a read-only refusal and a table missing on this database;
    a read-only one whose session setting cannot be relied on is read-only per transaction."""
    from django_cfg.relations.wrong_database_errors import join_error_wrapper
    from django_cfg.routing.query_metrics import measuring_wrapper
    from django_cfg.routing.read_only import enforce_per_transaction, read_only_wrapper

    explain_writes = read_only_wrapper(connection.alias)
    if explain_writes is not None:
        enforce_per_transaction(connection)  # innermost: inserted before the others
    wrappers: list[Callable[..., Any] | None] = [
        explain_writes,
        join_error_wrapper(connection.alias),
    ]
    if query_metrics_enabled() and not any(
        getattr(wrapper, "measures_queries", False) for wrapper in connection.execute_wrappers
    ):  # not again on a reconnection of a measured wrapper
        wrappers.append(measuring_wrapper(connection.alias))
    for wrapper in wrappers:
        if wrapper is not None and wrapper not in connection.execute_wrappers:
            connection.execute_wrappers.insert(0, wrapper)  # outermost; see patch 5


# 7. Failed connections reported ----------------------------------------------------------------


def _connect_reports(applied: Applied) -> dict[tuple[ModuleType | type, str], Any]:
    """Django's ``connect()`` tells ``replicas.outage`` how it went (see patch 7)."""
    from django_cfg.replicas import outage

    if kept := _kept_in_place(applied, BaseDatabaseWrapper, "connect"):
        return kept
    original = vars(BaseDatabaseWrapper)["connect"]

    @functools.wraps(original)
    def connect(self: BaseDatabaseWrapper) -> None:
        started = time.monotonic()
        try:
            original(self)
        except Exception as error:
            instead = outage.connection_failed(self, error, time.monotonic() - started)
            if instead is None:
                raise
            raise instead from error
        outage.connected(self)

    return {(BaseDatabaseWrapper, "connect"): connect}


# 8. Tenant aliases on first use ----------------------------------------------------------------


def _tenant_connections(applied: Applied) -> dict[tuple[ModuleType | type, str], Any]:
    """``connections["tenant_acme"]`` opens a known tenant's database (see patch 8)."""
    if kept := _kept_in_place(applied, ConnectionHandler, "__getitem__"):
        return kept
    original = ConnectionHandler.__getitem__
    from django.db import connections

    touched = applied.touched  # patch 11: the wrappers this thread reached

    @functools.wraps(original)
    def __getitem__(self: ConnectionHandler, alias: str) -> BaseDatabaseWrapper:
        try:
            wrapper = original(self, alias)
        except ConnectionDoesNotExist:
            if not _open_tenant_database(self, alias):
                raise
            wrapper = original(self, alias)
        if self is connections:
            touched.__dict__[alias] = wrapper
        return wrapper

    return {(ConnectionHandler, "__getitem__"): __getitem__}


# 9. on_commit callbacks keep their tenant -------------------------------------------------------


def _on_commit_keeps_tenant(applied: Applied) -> dict[tuple[ModuleType | type, str], Any]:
    """A callback registered in an atomic block runs as the tenant that registered it."""
    if kept := _kept_in_place(applied, BaseDatabaseWrapper, "on_commit"):
        return kept
    original = BaseDatabaseWrapper.on_commit

    @functools.wraps(original)
    def on_commit(self: BaseDatabaseWrapper, func: Callable[[], Any], robust: bool = False) -> None:
        from django_cfg.tenants.context import keeping_tenant

        if self.in_atomic_block and callable(func):
            func = keeping_tenant(func)
        original(self, func, robust)

    return {(BaseDatabaseWrapper, "on_commit"): on_commit}


# 12. ATOMIC_REQUESTS without a visit of every database -----------------------------------------


def _atomic_requests_of_candidates(applied: Applied) -> dict[tuple[ModuleType | type, str], Any]:
    """Django's ``make_view_atomic`` over ``applied.atomic_candidates`` (see patch 12)."""
    from django.core.handlers.base import BaseHandler

    if kept := _kept_in_place(applied, BaseHandler, "make_view_atomic"):
        return kept
    original = BaseHandler.make_view_atomic

    @functools.wraps(original)
    def make_view_atomic(self: BaseHandler, view: Callable[..., Any]) -> Callable[..., Any]:
        from asgiref.sync import iscoroutinefunction
        from django.db import connections, transaction

        non_atomic_requests: set[str] = getattr(view, "_non_atomic_requests", set())
        every = connections.settings
        candidates = applied.atomic_candidates.snapshot()
        for alias in every if candidates is None else candidates:
            settings_dict = every.get(alias)
            if settings_dict is None or not settings_dict["ATOMIC_REQUESTS"]:
                continue
            if alias not in non_atomic_requests:
                if iscoroutinefunction(view):
                    raise RuntimeError("You cannot use ATOMIC_REQUESTS with async views.")
                view = transaction.atomic(using=alias)(view)
        return view

    return {(BaseHandler, "make_view_atomic"): make_view_atomic}


def _may_have_atomic_requests(alias: str, entry: Mapping[str, Any], runtime: Any) -> bool:
    """Every database of settings (the test runner may turn ``ATOMIC_REQUESTS`` on), and one
    added at run time whose settings have it."""
    return alias not in runtime.added or bool(entry.get("ATOMIC_REQUESTS"))


# 10. Health checks with a deadline -------------------------------------------------------------


def _bounded_health_checks(applied: Applied) -> dict[tuple[ModuleType | type, str], Any]:
    """PostgreSQL's health checks (Django's and the pool's) wait at most the connect timeout
    (see patch 10)."""
    from django.db.backends.postgresql.base import DatabaseWrapper as PostgreSQLWrapper

    names = ("is_usable", "close_if_health_check_failed", "pool")
    if kept := _kept_in_place(applied, PostgreSQLWrapper, *names):
        return kept
    django_pool = vars(PostgreSQLWrapper)["pool"]
    return {
        (PostgreSQLWrapper, "is_usable"): _is_usable,
        (PostgreSQLWrapper, "close_if_health_check_failed"): _close_if_health_check_failed,
        (PostgreSQLWrapper, "pool"): property(_checked_within_deadline(django_pool.fget)),
    }


def _is_usable(self: Any) -> bool:
    """Django's ``is_usable()`` (``SELECT 1`` on the psycopg connection), answered in time."""
    if self.connection is None:
        return False
    return answered_within(self.connection, check_deadline(self.settings_dict)) is True


def _close_if_health_check_failed(self: Any) -> None:
    """Django's (the base class's, after PostgreSQL's "the pool checks its own"), the check
    answered in time; no answer fails the statement at once, rather than reconnecting to a
    server that just did not answer (one more connect timeout)."""
    if self.connection is None or not self.health_check_enabled or self.health_check_done:
        return
    if self.pool:  # psycopg_pool checks a connection when it hands it out
        return
    seconds = check_deadline(self.settings_dict)
    answered = answered_within(self.connection, seconds)
    if answered is not True:
        self.close()
    self.health_check_done = True
    if answered is None:
        entry = self.settings_dict
        server = shown_servers(str(entry.get("HOST") or ""), entry.get("PORT"))
        raise OperationalError(
            f"Database {self.alias!r} ({server}) did not answer a health check (SELECT 1) "
            f"within {seconds:g} s, its connect_timeout: the server hangs or is overloaded. "
            "The kept connection was closed; the next statement connects anew."
        )


def _checked_within_deadline(django_pool: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Django's ``pool`` property; the pool it made with psycopg_pool's ``check_connection``
    (``CONN_HEALTH_CHECKS``) checks with a deadline instead."""

    @functools.wraps(django_pool)
    def pool(self: Any) -> Any:
        made = django_pool(self)
        if made is not None and made._check is type(made).check_connection:
            made._check = _pool_check(self.alias, check_deadline(self.settings_dict))
        return made

    return pool


def _pool_check(alias: str, seconds: float) -> Callable[[Any], None]:
    def check_connection(connection: Any) -> None:
        """psycopg_pool's ``check``: raises unless the connection answered in time."""
        answered = answered_within(connection, seconds)
        if answered is not True:
            reason = "no answer" if answered is None else "a broken connection"
            raise OperationalError(f"Database {alias!r}: {reason} to SELECT 1 within {seconds:g} s")

    return check_connection


def keeps_postgresql_connections(databases: dict[str, Any] | None = None) -> bool:
    """Whether patch 10 is needed: a PostgreSQL database of ``databases`` (``DATABASES``)
    keeps connections (``CONN_MAX_AGE``) or pools them."""
    from django.conf import settings

    if databases is None:
        databases = getattr(settings, "DATABASES", {})
    return any(
        _keeps_postgresql_connection(alias, entry, None) for alias, entry in databases.items()
    )


def _keeps_postgresql_connection(alias: str, entry: Mapping[str, Any], runtime: Any) -> bool:
    return base_engine(str(entry.get("ENGINE") or "")) == "django.db.backends.postgresql" and (
        entry.get("CONN_MAX_AGE", 0) != 0 or bool((entry.get("OPTIONS") or {}).get("pool"))
    )


# 11. Request signals visit the connections a request reached ----------------------------------


def _bound_request_receivers(needed: bool, applied: Applied) -> None:
    """Django's per-request receivers replaced by ours, or given back (see patch 11)."""
    import django.db
    from django.core.signals import request_finished, request_started

    if needed == bool(applied.request_receivers):
        return
    pairs = (
        (request_started, django.db.reset_queries, _reset_queries),
        (request_started, django.db.close_old_connections, _close_old_connections),
        (request_finished, django.db.close_old_connections, _close_old_connections),
    )
    for signal, django_receiver, ours in pairs:
        signal.disconnect(dispatch_uid=id(django_receiver))  # whichever holds the key
        if needed:
            signal.connect(ours, dispatch_uid=id(django_receiver))
        else:
            signal.connect(django_receiver)
    if needed:
        connection_created.connect(_touch_new_connection, dispatch_uid=_TOUCH_CONNECTIONS)
    else:
        connection_created.disconnect(dispatch_uid=_TOUCH_CONNECTIONS)
    applied.request_receivers = applied.request_receivers + 1 if needed else 0
    applied.aging = threading.local()  # every thread's first visit is Django's full one


def _reset_queries(**_: Any) -> None:
    """``request_started``: Django's ``reset_queries`` for the wrappers this thread reached
    since its last request started (all of them at its first visit)."""
    applied = _applied()
    aging = applied.aging.__dict__
    if aging.get("since") != applied.request_receivers:
        wrappers: Any = _all_initialized()
    else:
        wrappers = [*aging["logged"].values(), *applied.touched.__dict__.values()]
        aging["logged"] = {}
    for wrapper in wrappers:
        wrapper.queries_log.clear()


def _close_old_connections(**_: Any) -> None:
    """``request_started`` / ``request_finished``: Django's ``close_old_connections`` for the
    wrappers this thread reached since the last of these, and for the connections whose
    ``CONN_MAX_AGE`` ran out since (all of them at this thread's first visit)."""
    applied = _applied()
    aging = applied.aging.__dict__
    touched = applied.touched.__dict__
    if aging.get("since") != applied.request_receivers:
        visit = {wrapper.alias: wrapper for wrapper in _all_initialized()}
        aging.update(since=applied.request_receivers, heap=[], pushed={}, logged={})
    else:
        visit = touched.copy()
    aging["logged"].update(touched)  # their queries logs are emptied at the next request
    touched.clear()
    heap: list[tuple[float, str]] = aging["heap"]
    pushed: dict[str, float] = aging["pushed"]
    now = time.monotonic()
    while heap and heap[0][0] <= now:
        close_at, alias = heapq.heappop(heap)
        if pushed.get(alias) == close_at:
            del pushed[alias]
        wrapper = thread_connection(alias)
        if wrapper is not None:
            visit.setdefault(alias, wrapper)
    for alias, wrapper in visit.items():
        wrapper.close_if_unusable_or_obsolete()
        closes_at: float | None = wrapper.close_at
        if (
            wrapper.connection is not None
            and closes_at is not None
            and pushed.get(alias) != closes_at
        ):
            pushed[alias] = closes_at
            heapq.heappush(heap, (closes_at, alias))


def _touch_new_connection(sender: Any, connection: BaseDatabaseWrapper, **_: Any) -> None:
    """``connection_created`` (patch 11): a wrapper connected through a reference kept
    across requests is visited too."""
    _applied().touched.__dict__[connection.alias] = connection


def _all_initialized() -> list[BaseDatabaseWrapper]:
    from django.db import connections

    return list(connections.all(initialized_only=True))


def _open_tenant_database(handler: ConnectionHandler, alias: str) -> bool:
    """Open the database of the tenant ``alias`` names (its own or a replica's), as its first
    routed query would; False if ``alias`` names no tenant of this process."""
    from django.db import connections

    from django_cfg.tenants.errors import UnknownTenantError
    from django_cfg.tenants.registry import current_registry, tenant_database_of, tenant_of_alias

    primary = tenant_database_of(alias) if handler is connections else None
    registry = current_registry() if primary is not None else None
    if primary is None or registry is None:
        return False
    name = tenant_of_alias(primary)
    assert name is not None  # tenant_database_of checked it
    try:
        registry.alias_for(name)
    except UnknownTenantError as error:
        raise ConnectionDoesNotExist(f"The connection {alias!r} doesn't exist: {error}") from None
    return True


def add_connection(alias: str, settings_dict: dict[str, Any]) -> None:
    """Make ``alias`` a database of ``django.db.connections``, with Django's defaults (patch 6)."""
    from django.db import DEFAULT_DB_ALIAS, connections

    configured = connections.configure_settings(
        {DEFAULT_DB_ALIAS: connections.settings[DEFAULT_DB_ALIAS], alias: settings_dict}
    )[alias]
    connections.settings[alias] = configured


def remove_connection(alias: str) -> None:
    """Forget ``alias``'s settings (patch 6). Connections made with them stay open until closed
    (``remove_database`` closes the calling thread's; other threads at their next request)."""
    from django.db import connections

    connections.settings.pop(alias, None)
