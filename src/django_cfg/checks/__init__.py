"""System checks for every database misconfiguration visible at startup (``manage.py check``).

``register_checks()`` (``DjangoCfgConfig.ready()`` calls it) registers them, one module per
subject, each listing its ids:

    routing      E001-E004, W005, W010   the routing rules, the router
    replicas     E007, W023, W040        replicas and copies: primaries, lag bounds, names
    relations    E006, E008, E009, E041, W050, E070   relations across databases, deletes
    deployment   W020-W022, W024, W025, W060, E061   check --deploy: key, environment,
                                               fallbacks, passwords, mail; pooler mode of
                                               PostgreSQL URLs, session state behind a pooler
    admin        E030, E031              admin options that would JOIN across databases
                                         (registered when the admin is installed)

Each is registered as a stand-in that imports its module when the checks run (``manage.py
check``, ``migrate``, ``runserver``, the test runner): a process that never runs them (a web
or Celery worker) never imports the check modules (issue 23: startup imports only what it uses).

Silence one with ``SILENCED_SYSTEM_CHECKS = ["django_cfg.W005"]``.
"""

from __future__ import annotations

import functools
from importlib import import_module
from inspect import Parameter, Signature
from typing import Any

from django.core.checks import CheckMessage, Tags, register

from django_cfg.checks.tag import TAG

__all__ = ["CHECKS", "TAG", "register_checks"]

CHECKS: tuple[tuple[str, str, tuple[str, ...], bool], ...] = (
    # module, function, tags, deploy (run by check --deploy only)
    ("routing", "check_routing_rules", (TAG,), False),
    ("replicas", "check_replicas", (TAG,), False),
    ("replicas", "check_replica_lag_bounds", (TAG,), True),
    ("replicas", "check_replica_names", (TAG,), False),
    ("relations", "check_cross_database_relations", (Tags.models, TAG), False),
    ("relations", "check_shared_to_tenant_relations", (Tags.models, TAG), False),
    ("relations", "check_cross_database_constraints", (Tags.database, TAG), False),
    ("relations", "check_database_on_delete", (Tags.models, TAG), False),
    # Tags.database only (check --database): a "django_cfg" tag would run its queries in every
    # run_checks(tags=[TAG]) (Django 6.1 passes every alias as ``databases`` there, 5.2 None).
    ("relations", "check_unfinished_deletes", (Tags.database,), False),
    ("deployment", "check_development_key", (Tags.security, TAG), True),
    ("deployment", "check_development_environment", (Tags.security, TAG), True),
    ("deployment", "check_fallback_databases", (TAG,), True),
    ("deployment", "check_password_validators", (Tags.security, TAG), True),
    ("deployment", "check_email_backend", (Tags.security, TAG), True),
    ("deployment", "check_pooled_urls", (TAG,), False),
    ("deployment", "check_transaction_pooler_session_state", (TAG,), False),
)
ADMIN_CHECKS = (("admin", "check_admin_lookups", (Tags.admin, TAG), False),)

_SIGNATURE = Signature(
    [Parameter("kwargs", Parameter.VAR_KEYWORD, annotation="Any")],
    return_annotation="list[CheckMessage]",
)
"""Each stand-in's signature, given: Django's ``register`` reads it (it checks for ``**kwargs``),
and ``inspect.signature`` took ~60,000 instructions per check to work it out (issue 23)."""


def register_checks(admin: bool) -> None:
    """Register every check (and the admin's, if ``admin``); idempotent, as Django's registry
    is a set and each stand-in is made once."""
    for module, name, tags, deploy in CHECKS + (ADMIN_CHECKS if admin else ()):
        register(_stand_in(module, name), *tags, deploy=deploy)


@functools.cache
def _stand_in(module: str, name: str) -> Any:
    """A check that imports ``django_cfg.checks.<module>`` and runs its ``name`` when called."""

    def check(**kwargs: Any) -> list[CheckMessage]:
        real = getattr(import_module(f"django_cfg.checks.{module}"), name)
        messages: list[CheckMessage] = real(**kwargs)
        return messages

    check.__name__ = check.__qualname__ = name
    check.__signature__ = _SIGNATURE  # type: ignore[attr-defined]
    check.__module__ = f"django_cfg.checks.{module}"
    return check
