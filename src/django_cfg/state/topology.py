"""The project's databases compiled once: each alias's role and each app's home database.

Built from three settings, all emitted by ``DjangoConfig.get_all_settings()`` (or written by
hand) and read by the router, the system checks and the commands alike:

    DATABASES = {"default": {...}, "blog_db": {...}, "replica": {...}, "analytics": {...}}
    DATABASE_ROUTING_RULES = {"blog": "blog_db"}                 # app label -> alias
    DATABASE_ROLES = {"replica": {"replica_of": "default", "read_weight": 0.8,
                                  "max_lag_seconds": 5},
                      "analytics": {"read_only": True},
                      "archive": {"copy_of": "blog_db"},
                      "blog_db": {"apps": ["blog"]}}

A copy (``copy_of``) holds its own copy of another primary's tables, reached with
``.using("archive")``: it is migrated with that primary's apps, and its rows relate only to rows
of the same copy or, across databases, to the related model's home (docs/routing.md).
Apps that no rule names live on ``default``. Rules may name an app by its dotted path
(``"apps.blog"``); it is normalised to the app's label.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

from django.db import DEFAULT_DB_ALIAS

__all__ = [
    "TENANT_HOME",
    "DatabaseRole",
    "RoutingRule",
    "Topology",
]

TOPOLOGY_SETTINGS = frozenset(
    {
        "DATABASES",
        "DATABASE_ROUTING_RULES",
        "DATABASE_ROLES",
        "DATABASE_CROSS_RELATIONS",
        "DATABASE_REPLICA_OPTIONS",
        "DJANGO_CFG_TENANTS",
    }
)

TENANT_HOME = "<tenant>"
"""The home of a tenant app (``DJANGO_CFG_TENANTS["apps"]``): no alias, but the current
tenant's database, which ``django_cfg.tenants`` resolves per query (docs/tenants.md)."""


class DatabaseRole(NamedTuple):
    """What one alias is for: a primary (the default), a replica of a primary, or read-only."""

    alias: str
    replica_of: str | None = None
    read_weight: float = 1.0
    read_only: bool = False
    max_lag_seconds: float | None = None
    max_lag_bytes: int | None = None
    copy_of: str | None = None

    @property
    def is_primary(self) -> bool:
        """Takes writes: neither a replica nor read-only."""
        return self.replica_of is None and not self.read_only

    def describe(self) -> str:
        if self.replica_of is not None:
            return f"replica of {self.replica_of}"
        if self.copy_of is not None:
            return f"copy of {self.copy_of}" + (", read-only" if self.read_only else "")
        return "read-only" if self.read_only else "primary"


class RoutingRule(NamedTuple):
    """One ``app -> alias`` rule as written, with where it was written (for error messages)."""

    app: str
    label: str
    alias: str
    source: str


class Topology(NamedTuple):
    """Immutable view of aliases, roles and app homes; build with ``Topology.from_settings``."""

    aliases: Sequence[str]
    """A tuple, or an ``AliasPrefix`` in a runtime derived for a tenant (compares equal)."""
    roles: Mapping[str, DatabaseRole]
    homes: Mapping[str, str]
    rules: tuple[RoutingRule, ...] = ()
    cross_database_relations: bool = True
    conflicts: tuple[tuple[RoutingRule, RoutingRule], ...] = ()

    @classmethod
    def from_settings(
        cls,
        settings: Any,
        app_labels: Mapping[str, str] | None = None,
        *,
        added: Mapping[str, Mapping[str, Any]] | None = None,
        removed: Iterable[str] = (),
    ) -> Topology:
        """Compile ``settings`` (``django.conf.settings`` or any object with those attributes).

        ``app_labels`` maps installed app names (``"apps.blog"``) to labels (``"blog"``); by
        default it is read from Django's app registry when that is ready. ``added`` (alias ->
        a DATABASE_ROLES entry) and ``removed`` are the databases added and removed at run time
        (``django_cfg.runtime.runtime.add_database``): they override what settings say.
        """
        added = added or {}
        gone = frozenset(removed)
        databases: Mapping[str, Any] = getattr(settings, "DATABASES", {}) or {}
        declared: Mapping[str, Mapping[str, Any]] = getattr(settings, "DATABASE_ROLES", {}) or {}
        routing_rules: Mapping[str, str] = getattr(settings, "DATABASE_ROUTING_RULES", {}) or {}
        labels = dict(app_labels) if app_labels is not None else _installed_app_labels()

        aliases = tuple(a for a in dict.fromkeys([*databases, *added]) if a not in gone)
        aliases = aliases or (DEFAULT_DB_ALIAS,)
        roles_setting = {**declared, **added}
        roles = {alias: _role(alias, roles_setting.get(alias, {})) for alias in aliases}
        rules = [
            RoutingRule(app, _label(app, labels), alias, "DATABASE_ROUTING_RULES")
            for app, alias in routing_rules.items()
            if alias not in gone
        ]
        rules += [
            RoutingRule(
                app,
                _label(app, labels),
                alias,
                f"add_database({alias!r}, apps=...)"
                if alias in added
                else f"DATABASE_ROLES[{alias!r}]['apps']",
            )
            for alias, role in roles_setting.items()
            if alias not in gone
            for app in role.get("apps", ())
        ]
        homes: dict[str, str] = {}
        first_rule: dict[str, RoutingRule] = {}
        conflicts = []
        for rule in rules:
            if rule.label not in first_rule:
                first_rule[rule.label] = rule
                homes[rule.label] = rule.alias
            elif first_rule[rule.label].alias != rule.alias:
                conflicts.append((first_rule[rule.label], rule))
        tenants: Mapping[str, Any] = getattr(settings, "DJANGO_CFG_TENANTS", None) or {}
        for app in tenants.get("apps", ()):
            homes.setdefault(_label(app, labels), TENANT_HOME)
        return cls(
            aliases=aliases,
            roles=MappingProxyType(roles),
            homes=MappingProxyType(homes),
            rules=tuple(rules),
            cross_database_relations=bool(getattr(settings, "DATABASE_CROSS_RELATIONS", True)),
            conflicts=tuple(conflicts),
        )

    def home(self, app_label: str) -> str:
        """The alias that holds ``app_label``'s tables (``default`` when no rule names it)."""
        return self.homes.get(app_label, DEFAULT_DB_ALIAS)

    def primary_of(self, alias: str) -> str:
        """The primary a replica follows; any other alias is its own."""
        role = self.roles.get(alias)
        return role.replica_of if role is not None and role.replica_of is not None else alias

    def copy_of(self, alias: str) -> str | None:
        """The primary whose tables ``alias`` (or the primary it replicates) holds a copy of."""
        role = self.roles.get(self.primary_of(alias))
        return role.copy_of if role is not None else None

    def apps_on(self, alias: str) -> tuple[str, ...]:
        """The app labels routed to ``alias`` by a rule (``default`` also holds all others)."""
        return tuple(sorted(label for label, home in self.homes.items() if home == alias))

    def replicas_of(self, primary: str) -> tuple[DatabaseRole, ...]:
        return tuple(role for role in self.roles.values() if role.replica_of == primary)

    def takes_migrations(self, alias: str) -> bool:
        """A primary that is ``default`` or the home of at least one app."""
        role = self.roles.get(alias)
        if role is None or not role.is_primary:
            return False
        if role.copy_of is not None:  # a copy of a copy is refused by the checks (E007)
            original = self.roles.get(role.copy_of)
            return (
                original is not None
                and original.copy_of is None
                and self.takes_migrations(role.copy_of)
            )
        return alias == DEFAULT_DB_ALIAS or alias in self.homes.values()

    @property
    def migration_targets(self) -> tuple[str, ...]:
        """The aliases ``migrate_all`` migrates: ``default`` first, then DATABASES order."""
        ordered = sorted(self.aliases, key=lambda alias: alias != DEFAULT_DB_ALIAS)
        return tuple(alias for alias in ordered if self.takes_migrations(alias))


def _role(alias: str, declared: Mapping[str, Any]) -> DatabaseRole:
    seconds, size = declared.get("max_lag_seconds"), declared.get("max_lag_bytes")
    return DatabaseRole(
        alias=alias,
        replica_of=declared.get("replica_of"),
        read_weight=float(declared.get("read_weight", 1.0)),
        read_only=bool(declared.get("read_only", False)),
        max_lag_seconds=float(seconds) if seconds is not None else None,
        max_lag_bytes=int(size) if size is not None else None,
        copy_of=declared.get("copy_of"),
    )


def _label(app: str, labels: Mapping[str, str]) -> str:
    """``"apps.blog"`` -> the label of the installed app of that name, else its last part."""
    if "." not in app:
        return app
    return labels.get(app, app.rpartition(".")[2])


def app_label(app: str) -> str:
    """The label of app ``app`` as a rule names it (``"apps.blog"`` or ``"blog"``)."""
    return _label(app, _installed_app_labels())


def _installed_app_labels() -> dict[str, str]:
    from django.apps import apps

    if not apps.apps_ready:
        return {}
    return {config.name: config.label for config in apps.get_app_configs()}
