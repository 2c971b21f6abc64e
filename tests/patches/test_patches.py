"""The patches of Django (``django_cfg.patches``): applied only when needed, undone, and pinned.

Three kinds of test:
- what is patched: nothing the project did not ask for, everything undone by ``uninstall()``;
- the Django internals each patch relies on (names, signatures, call sites): these fail when a
  Django release changes one, before a user's delete or admin page does;
- no module of the package other than ``patches.py`` assigns to Django's or pydantic's objects
  (an AST scan of src/django_cfg).
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import django.contrib.admin.utils
import django.contrib.admin.views.main
import django.db.models.base
import django.db.models.deletion
import django.db.models.query
import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.admin.utils import get_deleted_objects
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.postgresql.base import CursorDebugWrapper as PostgreSQLDebugCursor
from django.db.backends.postgresql.base import DatabaseWrapper as PostgreSQLDatabaseWrapper
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.db.models import CASCADE, ForeignKey, Model, QuerySet
from django.db.models.deletion import Collector
from django.test import override_settings
from pydantic import BaseModel, PydanticUserError

from django_cfg import patches
from django_cfg.admin.changelist import CrossDatabaseChangeList
from django_cfg.admin.delete_page import CrossDatabaseNestedObjects
from django_cfg.backends.replica_postgresql.base import (
    FailoverCursorDebugWrapper,
    FailoverCursorWrapper,
)
from django_cfg.relations.collector import CrossDatabaseCollector
from django_cfg.runtime.runtime import current_runtime
from django_cfg.state.topology import DatabaseRole, Topology

SRC = Path(__file__).resolve().parents[2] / "src" / "django_cfg"
assert SRC.is_dir(), SRC  # a scan of nothing would find nothing
# Django's own classes (the names in their modules are rebound while patched):
NestedObjects = CrossDatabaseNestedObjects.__bases__[0]
ChangeList = CrossDatabaseChangeList.__bases__[0]
assert NestedObjects.__module__ == "django.contrib.admin.utils"
assert ChangeList.__module__ == "django.contrib.admin.views.main"
# Django's ChangeList.apply_select_related, wrapped while patched (patch 4):
APPLY_SELECT_RELATED = "django.contrib.admin.views.main.ChangeList.apply_select_related"
SPLIT_SELECT_RELATED = vars(ChangeList)["apply_select_related"]
DJANGO_APPLY_SELECT_RELATED = SPLIT_SELECT_RELATED.__wrapped__
DJANGO_NAMES = {
    "django.db.models.base.Collector": Collector,
    "django.db.models.query.Collector": Collector,
    "django.contrib.admin.utils.NestedObjects": NestedObjects,
    APPLY_SELECT_RELATED: DJANGO_APPLY_SELECT_RELATED,
}
OURS = {
    "django.db.models.base.Collector": CrossDatabaseCollector,
    "django.db.models.query.Collector": CrossDatabaseCollector,
    "django.contrib.admin.utils.NestedObjects": CrossDatabaseNestedObjects,
    APPLY_SELECT_RELATED: SPLIT_SELECT_RELATED,
}
WRAPS_CONNECTIONS = "django.db.backends.signals.connection_created"
REPORTS_CONNECTS = "django.db.backends.base.base.BaseDatabaseWrapper.connect"
DJANGO_CONNECT = BaseDatabaseWrapper.connect
if REPORTS_CONNECTS in patches.installed():  # the suite's settings have a replica
    DJANGO_CONNECT = patches._applied().names[(BaseDatabaseWrapper, "connect")]


def current(name: str) -> Any:
    if name == APPLY_SELECT_RELATED:  # a class's own attribute
        return vars(ChangeList)["apply_select_related"]
    module, _, attribute = name.rpartition(".")
    return getattr(__import__(module, fromlist=[attribute]), attribute)


def author_field() -> Any:
    """``lite_posts.Post.author``: a ForeignKey from sqlite_blog to Person on default."""
    return apps.get_model("lite_posts", "Post")._meta.get_field("author")


@pytest.fixture
def restored() -> Iterator[None]:
    """Whatever a test does to the patches, the suite's own are back afterwards."""
    try:
        yield
    finally:
        patches.install(current_runtime().topology)


# What is patched ---------------------------------------------------------------------------------


def test_the_suite_crosses_databases_so_every_patch_is_installed() -> None:
    assert patches.installed().keys() == {*OURS, WRAPS_CONNECTIONS, REPORTS_CONNECTS}
    assert {current(name) for name in OURS} == set(OURS.values())
    assert author_field().db_constraint is False
    assert author_field() in [r.field for r in patches.dropped_constraints()]


def test_nothing_is_patched_when_no_relation_crosses_databases(restored: None) -> None:
    roles = {
        alias: {k: v for k, v in role.items() if k != "apps"}
        for alias, role in settings.DATABASE_ROLES.items()
    }
    with override_settings(DATABASE_ROLES=roles, DATABASE_ROUTING_RULES={}):
        assert current_runtime().topology.homes == {}  # every app on default: nothing crosses
        # Several databases, and a replica:
        assert patches.installed().keys() == {WRAPS_CONNECTIONS, REPORTS_CONNECTS}
        assert {name: current(name) for name in DJANGO_NAMES} == DJANGO_NAMES
        assert author_field().db_constraint is True  # the user's field as written
        assert patches.dropped_constraints() == ()
    # Patched again:
    assert patches.installed().keys() == {*OURS, WRAPS_CONNECTIONS, REPORTS_CONNECTS}
    assert author_field().db_constraint is False


def test_nothing_is_patched_without_the_router(restored: None) -> None:
    with override_settings(DATABASE_ROUTERS=[]):
        assert patches.installed() == {}
        assert {name: current(name) for name in DJANGO_NAMES} == DJANGO_NAMES
    assert patches.installed().keys() == {*OURS, WRAPS_CONNECTIONS, REPORTS_CONNECTS}


@pytest.mark.django_db
def test_one_writable_database_gets_no_patch_at_all(restored: None) -> None:
    def wrappers_of_a_new_connection() -> list[Any]:
        connection = connections["default"].copy()
        try:
            connection.ensure_connection()
            return list(connection.execute_wrappers)
        finally:
            connection.close()

    # The suite's project: the statement timer (metrics), then the missing-table explanation.
    assert [w.__name__ for w in wrappers_of_a_new_connection()] == ["measured", "explaining"]
    one = Topology(aliases=("default",), roles={"default": DatabaseRole("default")}, homes={})
    with override_settings(DJANGO_CFG_QUERY_METRICS=False):
        patches.install(one)
        assert patches.installed() == {}
        assert wrappers_of_a_new_connection() == []
    patches.install(one)  # with the metrics' statement timer only
    assert patches.installed().keys() == {WRAPS_CONNECTIONS}
    assert wrappers_of_a_new_connection()[0].__name__ == "measured"


def test_install_is_idempotent_and_uninstall_gives_django_its_objects_back(
    restored: None,
) -> None:
    patches.install(current_runtime().topology)
    patches.install(current_runtime().topology)
    assert patches.installed().keys() == {*OURS, WRAPS_CONNECTIONS, REPORTS_CONNECTS}
    patches.uninstall()
    patches.uninstall()
    assert {name: current(name) for name in DJANGO_NAMES} == DJANGO_NAMES
    assert BaseDatabaseWrapper.__dict__["connect"] is DJANGO_CONNECT
    assert author_field().db_constraint is True


def test_installing_again_never_passes_through_djangos_objects(restored: None) -> None:
    """A rebuild (a database added at run time) re-installs while other threads delete rows:
    they must never see Django's own collector or a crossing ForeignKey's constraint back."""
    import threading

    stop, seen = threading.Event(), {"django": 0, "samples": 0}

    def watch() -> None:
        while not stop.is_set():
            seen["samples"] += 1
            if (
                django.db.models.base.Collector is not CrossDatabaseCollector
                or author_field().db_constraint
            ):
                seen["django"] += 1

    import sys

    patches.install(current_runtime().topology)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for _ in range(300):
            patches.install(current_runtime().topology)
    finally:
        stop.set()
        watcher.join()
        sys.setswitchinterval(interval)
    assert seen["samples"] > 0
    assert seen["django"] == 0


# Patch 1: the deletion collector -----------------------------------------------------------------


def _parameters(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_delete_instantiates_the_collector_by_its_module_name() -> None:
    """``Model.delete()``/``QuerySet.delete()`` look ``Collector`` up in their module's globals."""
    assert Model.delete.__globals__ is vars(django.db.models.base)
    assert QuerySet.delete.__globals__ is vars(django.db.models.query)
    assert "Collector(using=using, origin=self)" in inspect.getsource(Model.delete)
    assert "Collector(using=del_query.db, origin=self)" in inspect.getsource(QuerySet.delete)


def test_collector_methods_the_cross_database_collector_overrides_keep_their_signatures() -> None:
    assert _parameters(Collector.__init__)[:3] == ["self", "using", "origin"]
    # CrossDatabaseCollector.collect() passes these positionally, in this order:
    assert _parameters(Collector.collect) == [
        "self",
        "objs",
        "source",
        "nullable",
        "collect_related",
        "source_attr",
        "reverse_dependency",
        "keep_parents",
        "fail_on_restricted",
    ]
    expected = {
        "related_objects": ["self", "related_model", "related_fields", "objs"],
        "can_fast_delete": ["self", "objs", "from_field"],
        "add_field_update": ["self", "field", "value", "objs"],
        "add_restricted_objects": ["self", "field", "objs"],
        "add_dependency": ["self", "model", "dependency", "reverse_dependency"],
        "clear_restricted_objects_from_set": ["self", "model", "objs"],
        "clear_restricted_objects_from_queryset": ["self", "model", "qs"],
        "_has_signal_listeners": ["self", "model"],
        "delete": ["self"],
    }
    assert {name: _parameters(getattr(Collector, name)) for name in expected} == expected


def test_collector_state_the_cross_database_collector_reads() -> None:
    collector = Collector(using="default", origin=None)
    for name in ("data", "fast_deletes", "restricted_objects", "field_updates", "dependencies"):
        assert hasattr(collector, name), name
    assert (collector.using, collector.origin) == ("default", None)


# Patch 2: no database constraint -----------------------------------------------------------------


def test_db_constraint_is_read_from_the_field_when_migrations_are_written() -> None:
    fk = ForeignKey("auth.User", on_delete=CASCADE)
    assert fk.db_constraint is True
    fk.db_constraint = False
    assert fk.deconstruct()[3]["db_constraint"] is False  # what makemigrations writes


# Patches 3 and 4: the admin ----------------------------------------------------------------------


def test_the_admin_builds_its_delete_collector_by_its_module_name() -> None:
    assert get_deleted_objects.__globals__ is vars(django.contrib.admin.utils)
    assert "NestedObjects(using=using, origin=objs)" in inspect.getsource(get_deleted_objects)
    assert issubclass(NestedObjects, Collector)
    collector = NestedObjects(using="default")
    for name in ("edges", "protected", "model_objs"):
        assert hasattr(collector, name), name
    assert _parameters(NestedObjects.add_edge) == ["self", "source", "target"]
    assert _parameters(NestedObjects.nested) == ["self", "format_callback"]
    assert _parameters(NestedObjects.collect)[:4] == ["self", "objs", "source", "source_attr"]


def test_the_changelist_selects_related_rows_in_one_method() -> None:
    source = inspect.getsource(ChangeList.get_queryset)
    assert "qs = self.apply_select_related(qs)" in source
    assert _parameters(DJANGO_APPLY_SELECT_RELATED) == ["self", "qs"]
    assert "list_display" in _parameters(ChangeList.__init__)
    assert SPLIT_SELECT_RELATED is not DJANGO_APPLY_SELECT_RELATED
    # What follow_within_databases() reads of a query: what select_related() and only()/defer() set.
    from django.contrib.auth.models import Permission

    query = Permission.objects.select_related("content_type").only("name").query
    assert query.select_related == {"content_type": {}}
    assert query.deferred_loading == (frozenset({"name"}), False)
    assert Permission._meta.get_field("content_type") not in query.get_select_mask()
    assert Permission.objects.defer("name").query.deferred_loading == (frozenset({"name"}), True)


# Patch 5: execute wrappers for a connection's lifetime -------------------------------------------


@dataclass
class Recorder:
    name: str
    calls: list[str] = field(default_factory=list)

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        assert set(context) >= {"connection", "cursor"}
        self.calls.append(self.name)
        return execute(sql, params, many, context)


@pytest.mark.django_db
def test_the_first_execute_wrapper_is_outermost_and_execute_wrapper_pops_only_its_own() -> None:
    connection = connections["default"]
    calls: list[str] = []
    first, user = Recorder("first", calls), Recorder("user", calls)
    connection.execute_wrappers.insert(0, first)
    try:
        with connection.execute_wrapper(user):
            assert connection.execute_wrappers[0] is first
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        assert calls == ["first", "user"]
        assert connection.execute_wrappers[0] is first  # the user's block popped its own
        assert user not in connection.execute_wrappers
    finally:
        connection.execute_wrappers.remove(first)


# Patch 7: failed connections reported -----------------------------------------------------------


def test_every_backend_connects_through_the_base_connect_inside_ensure_connection() -> None:
    from django.db.backends.mysql.base import DatabaseWrapper as MySQLDatabaseWrapper
    from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteDatabaseWrapper

    # pytest-django replaces ensure_connection while it blocks database access: read the module.
    module = inspect.getsource(inspect.getmodule(BaseDatabaseWrapper))  # type: ignore[arg-type]
    source = module.partition("def ensure_connection(self):")[2].partition("\n    def ")[0]
    assert "with self.wrap_database_errors:\n                self.connect()" in source
    assert "self.get_new_connection(conn_params)" in inspect.getsource(DJANGO_CONNECT)
    for backend in (PostgreSQLDatabaseWrapper, MySQLDatabaseWrapper, SQLiteDatabaseWrapper):
        owner = next(c for c in backend.__mro__ if "connect" in c.__dict__)
        assert owner is BaseDatabaseWrapper, backend


# Not a patch: the replica backend's own cursors --------------------------------------------------


def test_backends_make_cursors_through_make_cursor_and_make_debug_cursor() -> None:
    source = inspect.getsource(BaseDatabaseWrapper._prepare_cursor)
    assert "self.make_debug_cursor(cursor)" in source
    assert "self.make_cursor(cursor)" in source
    assert _parameters(BaseDatabaseWrapper.make_cursor) == ["self", "cursor"]
    assert _parameters(PostgreSQLDatabaseWrapper.make_debug_cursor) == ["self", "cursor"]
    assert _parameters(CursorWrapper.__init__) == ["self", "cursor", "db"]
    assert _parameters(CursorWrapper.execute) == ["self", "sql", "params"]
    assert _parameters(CursorWrapper.executemany) == ["self", "sql", "param_list"]
    raw, db = object(), object()
    wrapper = CursorWrapper(raw, db)
    assert (wrapper.cursor, wrapper.db) == (raw, db)


def test_the_failover_debug_cursor_is_postgresqls_debug_cursor_around_the_failover_one() -> None:
    mro = FailoverCursorDebugWrapper.__mro__
    assert mro.index(PostgreSQLDebugCursor) < mro.index(CursorDebugWrapper)
    assert mro.index(CursorDebugWrapper) < mro.index(FailoverCursorWrapper)


# Not a patch: DjangoConfig's metaclass -----------------------------------------------------------


def test_pydantic_still_refuses_unannotated_overrides_which_the_metaclass_allows() -> None:
    """When pydantic accepts them, DjangoConfig's metaclass can go."""

    class Base(BaseModel):
        name: str = "a"

    with pytest.raises(PydanticUserError) as raised:

        class Child(Base):
            name = "b"

    assert raised.value.code == "model-field-overridden"
    assert _parameters(type(BaseModel).__new__)[:4] == ["mcs", "cls_name", "bases", "namespace"]


# No patches outside patches.py -------------------------------------------------------------------

FOREIGN_PACKAGES = ("django", "pydantic")
EXECUTE_WRAPPER_ARGUMENTS = ["execute", "sql", "params", "many", "context"]
MUTATING_METHODS = {"append", "extend", "insert", "remove", "pop", "clear", "update", "setdefault"}


@dataclass
class Finding:
    path: str
    line: int
    code: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.code}"


class ForeignStateWrites(ast.NodeVisitor):
    """Writes to objects of Django or pydantic, found by where a name comes from.

    A name is foreign when it is imported from django/pydantic, annotated with such a type,
    narrowed by ``isinstance`` to one, or bound to an expression reached from a foreign name
    (``connection.schema_editor()``, ``apps.get_models()``); it is ours when it is ``self``/``cls``
    of a method, a class defined in the package, or an instance of one. Writes: assignment,
    augmented assignment, ``del``, ``setattr``/``delattr`` on a foreign object's attribute, an
    item of its ``__dict__`` or of a container it holds, and list/dict mutation of an attribute.
    """

    def __init__(self, path: str, source: str) -> None:
        self.path, self.source = path, source
        self.findings: list[Finding] = []
        self.scopes: list[dict[str, str | None]] = [{}]

    # Where names come from

    def kind(self, node: ast.AST | None) -> str | None:
        if isinstance(node, ast.Await):
            node = node.value
        if isinstance(node, ast.Name):
            found = [scope[node.id] for scope in self.scopes if node.id in scope]
            return found[-1] if found else None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            # An instance of a class of ours (by its name); what our functions return is not
            # known; what Django's classes and functions return is Django's.
            kind = self.kind(node.func)
            ours_class = kind == "ours" and node.func.id[:1].isupper()
            return "ours" if ours_class else "foreign" if kind == "foreign" else None
        if isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
            return "foreign" if self.root_kind(node) == "foreign" else None
        return None

    def root_kind(self, node: ast.AST) -> str | None:
        while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
            node = node.func if isinstance(node, ast.Call) else node.value
        return self.kind(node)

    def annotation_kind(self, annotation: ast.AST | None) -> str | None:
        if annotation is None:
            return None
        if isinstance(annotation, ast.Subscript):
            return self.annotation_kind(annotation.value)
        if isinstance(annotation, ast.BinOp):  # X | None
            kinds = {self.annotation_kind(annotation.left), self.annotation_kind(annotation.right)}
            return "foreign" if "foreign" in kinds else None
        return self.root_kind(annotation)

    def bind(self, target: ast.AST, kind: str | None) -> None:
        if isinstance(target, ast.Name):
            self.scopes[-1][target.id] = kind
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self.bind(element, kind)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            top = alias.name.split(".")[0]
            name = alias.asname or top
            self.scopes[-1][name] = "foreign" if top in FOREIGN_PACKAGES else "module"

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        top = (node.module or "").split(".")[0]
        for alias in node.names:
            kind = "foreign" if top in FOREIGN_PACKAGES else "ours" if top == "django_cfg" else None
            self.scopes[-1][alias.asname or alias.name] = kind

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.scopes[-1][node.name] = "ours"
        self.scopes.append({"__class__": "ours"})
        self.generic_visit(node)
        self.scopes.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        in_class = "__class__" in self.scopes[-1]
        self.scopes[-1][node.name] = None
        scope: dict[str, str | None] = {}
        arguments = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
        for index, argument in enumerate(arguments):
            kind = self.annotation_kind(argument.annotation)
            if in_class and index == 0:
                kind = "ours"  # self, cls, mcs
            scope[argument.arg] = kind
        if [a.arg for a in arguments] == EXECUTE_WRAPPER_ARGUMENTS:
            scope["context"] = "foreign"  # Django's connection and cursor
        self.scopes.append(scope)
        for statement in node.body:
            self.visit(statement)
        self.scopes.pop()

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_Lambda(self, node: ast.Lambda) -> None:
        return

    def visit_For(self, node: ast.For) -> None:
        self.bind(node.target, self.kind(node.iter))
        self.generic_visit(node)

    def visit_With(self, node: ast.With) -> None:
        for item in node.items:
            if item.optional_vars is not None:
                self.bind(item.optional_vars, self.kind(item.context_expr))
        self.generic_visit(node)

    def visit_If(self, node: ast.If) -> None:
        self.narrow(node.test)
        self.generic_visit(node)

    def narrow(self, test: ast.AST) -> None:
        if isinstance(test, ast.BoolOp):
            for value in test.values:
                self.narrow(value)
        elif (
            isinstance(test, ast.Call)
            and isinstance(test.func, ast.Name)
            and test.func.id == "isinstance"
            and isinstance(test.args[0], ast.Name)
        ):
            kinds = [self.kind(t) for t in getattr(test.args[1], "elts", [test.args[1]])]
            self.bind(test.args[0], "foreign" if "foreign" in kinds else kinds[0])

    # Writes

    def report(self, node: ast.AST) -> None:
        code = ast.get_source_segment(self.source, node) or ast.dump(node)
        self.findings.append(Finding(self.path, getattr(node, "lineno", 0), code.splitlines()[0]))

    def writes_foreign(self, target: ast.AST) -> bool:
        if isinstance(target, ast.Attribute):
            return self.kind(target.value) == "foreign"
        if isinstance(target, ast.Subscript):  # obj.__dict__[k], connection.settings_dict[k]
            return isinstance(target.value, ast.Attribute) and self.root_kind(target) == "foreign"
        return False

    def check_targets(self, node: ast.AST, targets: list[ast.AST]) -> None:
        for target in targets:
            for element in getattr(target, "elts", [target]):
                if self.writes_foreign(element):
                    self.report(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.check_targets(node, node.targets)
        self.generic_visit(node)
        for target in node.targets:
            self.bind(target, self.kind(node.value))

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.check_targets(node, [node.target])
        self.generic_visit(node)
        self.bind(node.target, self.annotation_kind(node.annotation) or self.kind(node.value))

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.check_targets(node, [node.target])
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        self.check_targets(node, node.targets)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id in ("setattr", "delattr") and node.args:
            if self.kind(node.args[0]) == "foreign":
                self.report(node)
        elif (
            isinstance(func, ast.Attribute)
            and func.attr in MUTATING_METHODS
            and isinstance(func.value, ast.Attribute)
            and self.kind(func.value.value) == "foreign"
        ):
            self.report(node)  # connection.execute_wrappers.insert(...)
        self.generic_visit(node)


def foreign_state_writes(path: Path, root: Path = SRC.parent) -> list[Finding]:
    source = path.read_text()
    visitor = ForeignStateWrites(str(path.relative_to(root)), source)
    visitor.visit(ast.parse(source))
    return visitor.findings


def test_the_scan_finds_each_kind_of_write_to_djangos_objects(tmp_path: Path) -> None:
    """The scan itself: each way the package used to patch Django is found."""
    module = tmp_path / "patching.py"
    module.write_text(
        "import django.db.models.base\n"
        "from django.db import router, connections\n"
        "from django.db.models import ForeignKey\n"
        "from django.db.backends.base.base import BaseDatabaseWrapper\n"
        "from django.db.migrations.executor import MigrationExecutor\n"
        "from pydantic import BaseModel\n"
        "class Mine:\n"
        "    def __init__(self):\n"
        "        self.fine = 1\n"
        "def patch(connection: BaseDatabaseWrapper, executor: MigrationExecutor, relations):\n"
        "    setattr(django.db.models.base, 'Collector', object)\n"
        "    router.routers = []\n"
        "    router.__dict__.pop('db_for_read', None)\n"
        "    connection.execute_wrappers.insert(0, print)\n"
        "    BaseModel.model_config['extra'] = 'allow'\n"
        "    with executor.connection.schema_editor() as editor:\n"
        "        editor.execute = print\n"
        "    for relation in relations:\n"
        "        field = relation.field\n"
        "        if isinstance(field, ForeignKey):\n"
        "            field.db_constraint = False\n"
        "    mine = Mine()\n"
        "    mine.fine = 2\n"
        "    connections['default'].alias += '!'\n"
        "def wrapper(execute, sql, params, many, context):\n"
        "    context['cursor'].cursor = None\n"
    )
    found = [finding.line for finding in foreign_state_writes(module, tmp_path)]
    assert found == [11, 12, 13, 14, 15, 17, 21, 24, 26]


def test_no_module_but_patches_writes_to_djangos_or_pydantics_objects() -> None:
    findings = [
        finding
        for path in sorted(SRC.rglob("*.py"))
        if path.name != "patches.py" or path.parent != SRC
        for finding in foreign_state_writes(path)
    ]
    assert not findings, "Patches of Django outside django_cfg/patches.py:\n" + "\n".join(
        map(str, findings)
    )


# Patch 9: on_commit callbacks keep their tenant --------------------------------------------------

DJANGO_ON_COMMIT = BaseDatabaseWrapper.__dict__["on_commit"]


def test_every_backend_registers_on_commit_callbacks_through_the_base_on_commit() -> None:
    from django.db import transaction
    from django.db.backends.mysql.base import DatabaseWrapper as MySQLDatabaseWrapper
    from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteDatabaseWrapper

    assert "get_connection(using).on_commit(func, robust)" in inspect.getsource(
        transaction.on_commit
    )
    source = inspect.getsource(DJANGO_ON_COMMIT)
    assert "if self.in_atomic_block:" in source
    assert "self.run_on_commit.append((set(self.savepoint_ids), func, robust))" in source
    for backend in (PostgreSQLDatabaseWrapper, MySQLDatabaseWrapper, SQLiteDatabaseWrapper):
        owner = next(c for c in backend.__mro__ if "on_commit" in c.__dict__)
        assert owner is BaseDatabaseWrapper, backend


def test_tenants_wrap_on_commit_and_uninstall_gives_it_back(restored: None) -> None:
    from django_cfg.state.topology import TENANT_HOME

    tenants = Topology(
        aliases=("default",),
        roles={"default": DatabaseRole("default")},
        homes={"notes": TENANT_HOME},
    )
    patches.install(tenants)
    patches.install(tenants)
    wrapped = patches.installed()["django.db.backends.base.base.BaseDatabaseWrapper.on_commit"]
    assert wrapped.__wrapped__ is DJANGO_ON_COMMIT
    patches.uninstall()
    assert BaseDatabaseWrapper.__dict__["on_commit"] is DJANGO_ON_COMMIT


# Patch 10: health checks with a deadline ---------------------------------------------------------

DJANGO_HEALTH_CHECKS = {
    name: PostgreSQLDatabaseWrapper.__dict__[name]
    for name in ("is_usable", "close_if_health_check_failed", "pool")
}
HEALTH_CHECK_NAMES = {
    f"django.db.backends.postgresql.base.DatabaseWrapper.{name}" for name in DJANGO_HEALTH_CHECKS
}


def test_postgresql_databases_that_keep_connections_need_bounded_health_checks() -> None:
    def keeps(**entry: Any) -> bool:
        return patches.keeps_postgresql_connections({"default": entry})

    postgresql = "django.db.backends.postgresql"
    assert keeps(ENGINE=postgresql, CONN_MAX_AGE=60)
    assert keeps(ENGINE=postgresql, CONN_MAX_AGE=None)  # kept for ever
    assert keeps(ENGINE=postgresql, CONN_MAX_AGE=0, OPTIONS={"pool": {"timeout": 5}})
    assert keeps(ENGINE="django_cfg.backends.replica_postgresql", CONN_MAX_AGE=60)
    assert not keeps(ENGINE=postgresql, CONN_MAX_AGE=0, OPTIONS={})
    assert not keeps(ENGINE="django.db.backends.sqlite3", CONN_MAX_AGE=60)


@pytest.mark.usefixtures("restored")
def test_bounded_health_checks_are_installed_once_and_uninstalled() -> None:
    patches.install(current_runtime().topology, keeping=True)
    patches.install(current_runtime().topology, keeping=True)
    installed = patches.installed()
    assert installed.keys() >= HEALTH_CHECK_NAMES
    pool = PostgreSQLDatabaseWrapper.__dict__["pool"]
    assert isinstance(pool, property)
    assert pool.fget.__wrapped__ is DJANGO_HEALTH_CHECKS["pool"].fget  # not wrapped twice
    patches.uninstall()
    assert {n: PostgreSQLDatabaseWrapper.__dict__[n] for n in DJANGO_HEALTH_CHECKS} == (
        DJANGO_HEALTH_CHECKS
    )


@pytest.mark.usefixtures("restored")
def test_bounded_health_checks_follow_a_database_added_and_removed_at_run_time() -> None:
    """Opening a tenant whose settings keep PostgreSQL connections installs patch 10 (counted
    for the one alias added, not over every database), and removing the last one undoes it."""
    from django_cfg.runtime.added_databases import add_database, remove_database

    kept = {"ENGINE": "django.db.backends.postgresql", "NAME": "never_connected"}
    assert not patches.keeps_postgresql_connections()  # the suite's settings keep none
    assert not patches.installed().keys() & HEALTH_CHECK_NAMES
    add_database("patch10_plain", {**kept, "CONN_MAX_AGE": 0})
    add_database("patch10_kept", {**kept, "CONN_MAX_AGE": 60})
    try:
        assert current_runtime().derived_for == ("patch10_kept", True)
        assert patches.installed().keys() >= HEALTH_CHECK_NAMES
        remove_database("patch10_plain")
        assert patches.installed().keys() >= HEALTH_CHECK_NAMES
    finally:
        remove_database("patch10_kept")
    assert not patches.installed().keys() & HEALTH_CHECK_NAMES


def test_djangos_health_check_is_is_usable_run_once_before_a_statement() -> None:
    """What ``_close_if_health_check_failed`` replaces: the base class's check after
    PostgreSQL's own "the pool checks its connections"; ``_cursor()`` runs it first."""
    base = inspect.getsource(BaseDatabaseWrapper.close_if_health_check_failed)
    for line in (
        "self.connection is None",
        "or not self.health_check_enabled",
        "or self.health_check_done",
        "if not self.is_usable():\n            self.close()\n        self.health_check_done = True",
    ):
        assert line in base, line
    postgresql = inspect.getsource(DJANGO_HEALTH_CHECKS["close_if_health_check_failed"])
    assert "if self.pool:" in postgresql
    assert "return super().close_if_health_check_failed()" in postgresql
    assert "self.close_if_health_check_failed()" in inspect.getsource(BaseDatabaseWrapper._cursor)
    assert 'cursor.execute("SELECT 1")' in inspect.getsource(DJANGO_HEALTH_CHECKS["is_usable"])


def test_djangos_pool_checks_with_check_connection_kept_in_the_pools_check() -> None:
    """The pool property gives psycopg_pool ``ConnectionPool.check_connection`` when
    ``CONN_HEALTH_CHECKS`` is on (Django 6.0+ only unless ``OPTIONS["pool"]`` has a ``check``,
    which the patch keeps); psycopg_pool keeps it in ``_check`` and runs it in ``getconn()``."""
    from psycopg_pool import ConnectionPool

    source = inspect.getsource(DJANGO_HEALTH_CHECKS["pool"].fget)
    assert "ConnectionPool.check_connection if enable_checks else None" in source
    assert 'enable_checks = self.settings_dict["CONN_HEALTH_CHECKS"]' in source
    assert "self._check(conn)" in inspect.getsource(ConnectionPool._check_connection)
    assert "self._check_connection(conn)" in inspect.getsource(
        ConnectionPool._getconn_with_check_loop
    )

    def own(connection: Any) -> None: ...

    assert ConnectionPool("", open=False, check=own)._check is own
    assert ConnectionPool("", open=False)._check is None
