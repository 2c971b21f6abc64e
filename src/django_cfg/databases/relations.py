"""Moved to ``django_cfg.relations.crossing``; this path (django-cfg 0.1) keeps working."""

from django_cfg.relations.crossing import (  # noqa: F401
    CrossDatabaseCollector,
    CrossDatabaseJoinError,
    CrossDatabaseRelation,
    TableNotOnDatabaseError,
    cross_database_relations,
)
