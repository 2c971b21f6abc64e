"""Tenant test databases, created and destroyed with Django's own test databases.

Django's test runner (settings.py)::

    TEST_RUNNER = "django_cfg.tenants.testing.TenantDiscoverRunner"

pytest-django (conftest.py)::

    @pytest.fixture(scope="session")
    def django_db_setup(django_db_setup, django_db_blocker):
        with django_db_blocker.unblock(), tenant_test_databases():
            yield

While the tests run, tenants live in ``TenantsConfig.test_url`` (unset: the template with
``test_`` before its database name, ``t_{tenant}`` -> ``test_t_{tenant}``,
``tenants/{tenant}.sqlite3`` -> ``tenants/test_{tenant}.sqlite3``), never in the production
template's databases. The tenants of ``TenantsConfig.names`` get their test database created
(an old one is dropped first, unless keepdb) and migrated before the first test; tenants a test
creates (``create_tenant``) get theirs wherever the test template says. Every tenant database
opened during the run is dropped at the end (kept with keepdb / ``--keepdb`` / ``--reuse-db``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.signals import connection_created
from django.test.runner import DiscoverRunner
from django.test.utils import override_settings

from django_cfg.routing.runtime import add_database, remove_database
from django_cfg.settings.tenants import PLACEHOLDER, TENANTS_SETTING, template_text
from django_cfg.tenants.provisioning import create_database, drop_database
from django_cfg.tenants.registry import current_registry, tenant_of_alias

__all__ = [
    "TenantDiscoverRunner",
    "TenantTestDatabases",
    "TenantTestRunnerMixin",
    "tenant_test_databases",
    "tenant_test_template",
]


def tenant_test_template(template: str) -> str:
    """``template`` with ``test_`` before its database name (the last part of its path)."""
    base, question, query = template.partition("?")
    head, _, last = base.rpartition("/")
    return f"{head}/test_{last}{question}{query}"


@dataclass
class TenantTestDatabases:
    """The tenants' test databases of one test run: ``setup()`` before the first test,
    ``teardown()`` after the last (before Django destroys ``default``'s test database)."""

    tenants: Sequence[str] | None = None
    """The tenants to create before the first test; None: ``TenantsConfig.names`` (none when
    the tenants table is used). With the tenants table, they are recorded in it."""
    verbosity: int = 1
    keepdb: bool = False
    production: dict[str, Any] | None = None
    _override: override_settings | None = None
    """The test template in place of the production one (Django's override_settings)."""
    opened: dict[str, dict[str, Any]] = field(default_factory=dict)
    """alias -> connection settings of every tenant database opened during the run."""

    def setup(self) -> None:
        setting = getattr(settings, TENANTS_SETTING, None)
        if not setting:
            return
        registry = current_registry()
        if registry is not None:
            for name in list(registry.open):
                registry.close(name)
        self.production = setting
        test_url = setting.get("test_url") or tenant_test_template(template_text(setting["url"]))
        # No replicas under tests: the replica templates name the production replicas.
        self._override = override_settings(
            **{TENANTS_SETTING: {**setting, "url": test_url, "replica_urls": []}}
        )
        self._override.enable()
        connection_created.connect(self._record, dispatch_uid=id(self))
        registry = current_registry()
        assert registry is not None
        names = sorted(self.tenants if self.tenants is not None else registry.fixed or ())
        for name in names:
            if registry.fixed is None:
                from django_cfg.tenants.models import Tenant

                Tenant._default_manager.using(DEFAULT_DB_ALIAS).get_or_create(name=name)
            alias = registry.alias_for(name)
            owner = self._production_owner(alias, connections[alias].settings_dict)
            if owner is not None:
                raise ImproperlyConfigured(
                    f"Tenant {name!r}: its test database "
                    f"{connections[alias].settings_dict['NAME']!r} is the production database of "
                    f"tenant {owner!r} (TenantsConfig.url); the tests would drop it. Set "
                    "TenantsConfig.test_url to a template of other databases (e.g. another "
                    "directory or prefix than any tenant's production database)."
                )
            self._record(connection=connections[alias])
            what = "Using existing" if self.keepdb else "Creating"
            self._log(f"{what} test database", alias, connections[alias].settings_dict)
            if not self.keepdb:
                drop_database(alias)
            create_database(alias)
        if names:
            call_command(
                "migrate_all",
                tenants=names,
                verbosity=max(self.verbosity - 1, 0),
                interactive=False,
            )

    def teardown(self) -> None:
        if self.production is None:
            return
        connection_created.disconnect(dispatch_uid=id(self))
        try:
            registry = current_registry()
            for alias, settings_dict in sorted(self.opened.items()):
                name = tenant_of_alias(alias)
                if registry is not None and name is not None:
                    registry.close(name)
                if self.keepdb:
                    continue
                if self._production_owner(alias, settings_dict) is not None:
                    self._log("Not destroying (not a test database)", alias, settings_dict)
                    continue
                self._log("Destroying test database", alias, settings_dict)
                added = alias not in connections.settings
                if added:
                    add_database(alias, settings_dict)
                try:
                    drop_database(alias)
                finally:
                    if added:
                        remove_database(alias)
        finally:
            if self._override is not None:
                self._override.disable()
                self._override = None
        self.production = None

    def _record(self, connection: Any, **_: Any) -> None:
        if tenant_of_alias(connection.alias) is not None:
            self.opened.setdefault(connection.alias, dict(connection.settings_dict))

    def _production_owner(self, alias: str, settings_dict: dict[str, Any]) -> str | None:
        """The tenant (``alias``'s, or one of ``TenantsConfig.names``) whose production database
        (by the production template) ``settings_dict`` is; None for a test database. Never
        drop such a database."""
        from django_cfg.settings.database_config import DatabaseConfig

        assert self.production is not None
        names: list[str] = [tenant_of_alias(alias) or "", *(self.production.get("names") or ())]
        for name in dict.fromkeys(names):
            template = template_text(self.production["url"])
            production = DatabaseConfig.from_url(template.replace(PLACEHOLDER, name))
            ours = production.to_django(getattr(settings, "BASE_DIR", None))
            if (
                settings_dict.get("NAME") == ours.get("NAME")
                and settings_dict.get("HOST") == ours.get("HOST")
                and str(settings_dict.get("PORT") or "") == str(ours.get("PORT") or "")
            ):
                return name
        return None

    def _log(self, what: str, alias: str, settings_dict: dict[str, Any]) -> None:
        if self.verbosity >= 1:
            sys.stderr.write(f"{what} for alias '{alias}' ('{settings_dict['NAME']}')...\n")


@contextmanager
def tenant_test_databases(
    tenants: Sequence[str] | None = None, *, verbosity: int = 0, keepdb: bool = False
) -> Iterator[None]:
    """The tenants' test databases for the block (pytest-django's ``django_db_setup``)."""
    databases = TenantTestDatabases(tenants, verbosity=verbosity, keepdb=keepdb)
    try:
        databases.setup()
        yield
    finally:
        databases.teardown()


class TenantTestRunnerMixin:
    """For a project's own ``DiscoverRunner`` subclass: tenant test databases too."""

    tenants: Sequence[str] | None = None
    """The tenants to create for the tests (see ``TenantTestDatabases.tenants``)."""
    verbosity: int
    keepdb: bool

    def setup_databases(self, **kwargs: Any) -> Any:
        if getattr(self, "parallel", 1) > 1 and getattr(settings, TENANTS_SETTING, None):
            raise ImproperlyConfigured(
                f"{type(self).__name__}: the tenants' test databases are not cloned per worker, "
                "so tests cannot run in parallel: run them without --parallel."
            )
        old_config = super().setup_databases(**kwargs)  # type: ignore[misc]
        tenants = TenantTestDatabases(self.tenants, verbosity=self.verbosity, keepdb=self.keepdb)
        try:
            tenants.setup()
        except BaseException:
            tenants.teardown()
            super().teardown_databases(old_config)  # type: ignore[misc]
            raise
        return old_config, tenants

    def teardown_databases(self, old_config: Any, **kwargs: Any) -> None:
        old_config, tenants = old_config
        try:
            tenants.teardown()
        finally:
            super().teardown_databases(old_config, **kwargs)  # type: ignore[misc]


class TenantDiscoverRunner(TenantTestRunnerMixin, DiscoverRunner):
    """Django's test runner, with the tenants' test databases."""
