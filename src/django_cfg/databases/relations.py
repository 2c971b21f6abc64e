"""Moved to ``django_cfg.relations``; this path (django-cfg 0.1) keeps working."""

from django_cfg.relations.collector import CrossDatabaseCollector  # noqa: F401
from django_cfg.relations.crossing import (  # noqa: F401
    CrossDatabaseRelation,
    cross_database_relations,
)
from django_cfg.relations.wrong_database_errors import (  # noqa: F401
    CrossDatabaseJoinError,
    TableNotOnDatabaseError,
)
