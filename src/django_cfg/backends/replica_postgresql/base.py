"""PostgreSQL for replica aliases: Django's backend plus failover to the primary."""

from django.db.backends.postgresql.base import DatabaseWrapper as PostgreSQLDatabaseWrapper

from django_cfg.replicas.failover import ReplicaFailoverMixin


class DatabaseWrapper(ReplicaFailoverMixin, PostgreSQLDatabaseWrapper):
    pass
