"""Which databases ``dumpdata_all`` / ``loaddata_all`` visit, and what cannot be dumped across.

Django's ``dumpdata`` and ``loaddata`` work on one database (``--database``, ``default`` unless
given) and only on the models whose tables live there (the router's ``allow_migrate``): the other
databases' rows are silently left out. The ``_all`` commands run them once per database that
holds tables, ``default`` first: the databases ``migrate_all`` migrates.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.core.management.base import CommandError
from django.core.management.utils import parse_apps_and_model_labels

from django_cfg.relations.crossing import CrossDatabaseRelation, cross_database_relations
from django_cfg.runtime.runtime import current_runtime

__all__ = ["data_databases", "natural_keys_across"]


def data_databases(requested: Sequence[str] | None) -> list[str]:
    """The aliases that hold tables, ``default`` first; ``requested`` narrows them.

    Copies (``copy_of``) are visited only when ``requested`` names them: their rows are copies of
    another database's, so dumping them too would load every such row twice, and loading a
    fixture into them would write each object on its model's home and on the copy.
    """
    topology = current_runtime().topology
    targets = list(topology.migration_targets)
    if not requested:
        targets = [alias for alias in targets if topology.copy_of(alias) is None]
    for alias in requested or ():
        if alias not in topology.roles:
            raise CommandError(
                f"No database {alias!r} in DATABASES; databases with tables: {', '.join(targets)}."
            )
        if alias not in targets:
            role = topology.roles[alias]
            raise CommandError(
                f"Database {alias!r} ({role.describe()}) holds no tables of its own; "
                f"databases with tables: {', '.join(targets)}."
            )
    return [alias for alias in targets if not requested or alias in requested]


def natural_keys_across(
    app_labels: Sequence[str], excludes: Sequence[str]
) -> list[CrossDatabaseRelation]:
    """Cross-database ForeignKeys that ``--natural-foreign`` would write as natural keys.

    ``loaddata`` looks a natural key up on the database it loads into, which does not hold the
    target's table: such a fixture cannot be loaded back.
    """
    selected_models, selected_apps = parse_apps_and_model_labels(app_labels)
    excluded_models, excluded_apps = parse_apps_and_model_labels(excludes)
    found = []
    for relation in cross_database_relations():
        model = relation.field.model
        app = model._meta.app_config
        if model in excluded_models or app in excluded_apps:
            continue
        if app_labels and model not in selected_models and app not in selected_apps:
            continue
        if hasattr(relation.field.related_model, "natural_key"):
            found.append(relation)
    return found
