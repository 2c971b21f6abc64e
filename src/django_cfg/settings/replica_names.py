"""Aliases that are read replicas by their name, as the specification writes them.

    class MyDjangoConfig(DjangoConfig):
        databases = {"default": DatabaseConfig.from_url(url=env.database.url)}
        if env.database.url_replica:                  # DATABASE__URL_REPLICA
            databases["replica"] = DatabaseConfig.from_url(url=env.database.url_replica)

The specification names its read replica ``replica`` and declares no role. ``DjangoConfig``
reads the name as the role, exactly as if ``replica_of`` had been written:

    replica, replica_db              -> replica_of="default"
    <alias>_replica                  -> replica_of="<alias>"       (orders_replica -> orders)
    <name>_replica, <name>_replica_db -> replica_of="<name>_db"     (url_blog_replica -> blog_db)

It does so only for a database that declares no role of its own (no ``replica_of``, ``apps``,
``read_only`` or ``copy_of``) and whose primary is configured. ``replica_of=None``, written out,
keeps such an alias an independent primary. Settings written by hand (no ``DjangoConfig``) are
not changed: the ``django_cfg.W040`` check names such an alias and the fix.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from django_cfg.settings.database_config import DatabaseConfig

__all__ = ["implied_primaries", "primary_by_name", "with_replicas_by_name"]


def implied_primaries(alias: str) -> tuple[str, ...]:
    """The primaries an alias's name points at, best first (empty: not a replica's name)."""
    if alias in {"replica", "replica_db"}:
        return ("default",)
    if alias.endswith("_replica_db"):
        return (alias.removesuffix("_replica_db") + "_db",)
    if alias.endswith("_replica"):
        name = alias.removesuffix("_replica")
        return (name, f"{name}_db") if name else ()
    return ()


def primary_by_name(alias: str, aliases: Collection[str]) -> str | None:
    """The configured primary that ``alias``'s name points at, or None."""
    return next((p for p in implied_primaries(alias) if p in aliases and p != alias), None)


def declares_role(database: DatabaseConfig) -> bool:
    """Whether the database says what it is: replica_of (even None), apps, read_only or copy_of."""
    return (
        "replica_of" in database.model_fields_set
        or bool(database.apps)
        or database.read_only
        or database.copy_of is not None
    )


def with_replicas_by_name(databases: Mapping[str, DatabaseConfig]) -> dict[str, DatabaseConfig]:
    """``databases`` with each replica-named alias that declares no role made a replica."""
    result = dict(databases)
    for alias, database in databases.items():
        if declares_role(database):
            continue
        primary = primary_by_name(alias, databases)
        if primary is None or databases[primary].replica_of is not None:
            continue
        # Validated as an explicit replica_of would be: by DjangoConfig's databases check.
        result[alias] = database.model_copy(update={"replica_of": primary})
    return result
