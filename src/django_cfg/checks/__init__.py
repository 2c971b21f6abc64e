"""System checks for every database misconfiguration visible at startup (``manage.py check``).

Importing this package registers them (``DjangoCfgConfig.ready()`` does), one module per
subject, each listing its ids:

    routing      E001-E004, W005, W010   the routing rules, the router
    replicas     E007, W023, W040        replicas and copies: primaries, lag bounds, names
    relations    E006, E008, E009, E041, W050, E070   relations across databases, deletes
    deployment   W020-W022, W024, W025, W060, E061   check --deploy: key, environment,
                                               fallbacks, passwords, mail; pooler mode of
                                               PostgreSQL URLs, session state behind a pooler
    admin        E030, E031              admin options that would JOIN across databases
                                         (registered by ready() when the admin is installed)

Silence one with ``SILENCED_SYSTEM_CHECKS = ["django_cfg.W005"]``.
"""

from django_cfg.checks import deployment, relations, replicas, routing
from django_cfg.checks.tag import TAG

__all__ = ["TAG", "deployment", "relations", "replicas", "routing"]
