"""Tenant test databases, created and destroyed with Django's own test databases.

Django's test runner (settings.py)::

    TEST_RUNNER = "django_cfg.tenants.testing.TenantDiscoverRunner"

pytest-django (conftest.py)::

    @pytest.fixture(scope="session")
    def django_db_modify_db_settings(django_db_modify_db_settings, django_db_blocker):
        with django_db_blocker.unblock():  # before Django's test databases replace default
            return ProductionDatabases.read()

    @pytest.fixture(scope="session")
    def django_db_setup(django_db_setup, django_db_blocker, django_db_modify_db_settings, request):
        production, worker = django_db_modify_db_settings, xdist_worker(request)
        with django_db_blocker.unblock(), tenant_test_databases(
            production=production, worker=worker
        ):
            yield

While the tests run, tenants live in ``TenantsConfig.test_url`` (unset: the template with
``test-`` before its database name, ``t_{tenant}`` -> ``test-t_{tenant}``,
``tenants/{tenant}.sqlite3`` -> ``tenants/test-{tenant}.sqlite3``: a '-' is never part of a
tenant's name, so no tenant of the template has such a database). The tenants of
``TenantsConfig.names`` get their test database created (an old one is dropped first, unless
keepdb) and migrated before the first test; tenants a test creates (``create_tenant``) get
theirs wherever the test template says. Every tenant database opened during the run is dropped
at the end (kept with keepdb / ``--keepdb`` / ``--reuse-db``).

A production tenant's database (``TenantsConfig.names``, or every row of the tenants table,
read before Django's test databases replace ``default``) is never created, opened or dropped
by the tests: ``ImproperlyConfigured`` names it (``django_cfg.tenants.production``).

Under pytest-xdist each worker has tenant test databases of its own, named after the worker as
pytest-django names ``default``'s: ``test-{tenant}-gw0``, ``tenants/test-{tenant}-gw1.sqlite3``;
the recipe passes ``worker=xdist_worker(request)`` (None outside xdist).
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
from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.signals import connection_created
from django.test.runner import DiscoverRunner
from django.test.utils import override_settings
from pydantic import SecretStr

from django_cfg.runtime.added_databases import add_database, remove_database
from django_cfg.settings.tenant_names import PLACEHOLDER, TENANTS_SETTING, template_text
from django_cfg.tenants.clone import drop_template
from django_cfg.tenants.production import (
    PRODUCTION_DATABASES,
    ProductionDatabases,
    refuse_production,
)
from django_cfg.tenants.provisioning import create_database, drop_database
from django_cfg.tenants.registry import current_registry, tenant_of_alias

__all__ = [
    "ProductionDatabases",
    "TenantDiscoverRunner",
    "TenantTestDatabases",
    "TenantTestRunnerMixin",
    "tenant_test_databases",
    "tenant_test_template",
    "xdist_worker",
]


def tenant_test_template(template: str) -> str:
    """``template`` with ``test-`` before its database name (the last part of its path)."""
    base, question, query = template.partition("?")
    head, _, last = base.rpartition("/")
    return f"{head}/test-{last}{question}{query}"


def worker_template(template: str, worker: str | None) -> str:
    """``template`` with ``-<worker>`` after ``{tenant}`` (``test-{tenant}-gw0``): each
    pytest-xdist worker's own databases (a '-' is never part of a tenant's name, so a worker's
    database is never another tenant's); unchanged without a worker."""
    return template.replace(PLACEHOLDER, f"{PLACEHOLDER}-{worker}") if worker else template


def xdist_worker(request: Any) -> str | None:
    """The pytest-xdist worker running this session (``gw0``, ``gw1``...), read as pytest-django
    reads it (``request.config.workerinput``), else None. Not ``PYTEST_XDIST_WORKER``: a pytest
    started by a test of an xdist worker inherits that variable without being a worker."""
    workerinput = getattr(request.config, "workerinput", None)
    return str(workerinput["workerid"]) if workerinput else None


@dataclass
class TenantTestDatabases:
    """The tenants' test databases of one test run: ``setup()`` before the first test,
    ``teardown()`` after the last (before Django destroys ``default``'s test database)."""

    tenants: Sequence[str] | None = None
    """The tenants to create before the first test; None: ``TenantsConfig.names`` (none when
    the tenants table is used). With the tenants table, they are recorded in it."""
    verbosity: int = 1
    keepdb: bool = False
    production: ProductionDatabases | None = None
    """The production tenants' databases, read while ``default`` was still the production
    database (``ProductionDatabases.read()``); None: those of ``TenantsConfig.names``."""
    worker: str | None = None
    """The pytest-xdist worker (``gw0``): its own databases, ``test-{tenant}-gw0``."""
    _setting: dict[str, Any] | None = None
    _override: override_settings | None = None
    """The test template in place of the production one (Django's override_settings)."""
    opened: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    """alias -> (vendor, connection settings) of every tenant database opened during the run."""

    def setup(self) -> None:
        setting = getattr(settings, TENANTS_SETTING, None)
        if not setting:
            return
        if self.production is None:
            self.production = _production_of_names(setting)
        registry = current_registry()
        if registry is not None:
            for name in list(registry.open):
                registry.close(name)
        self._setting = setting
        self._override = override_settings(**{TENANTS_SETTING: self._test_setting(setting)})
        self._override.enable()
        connection_created.connect(self._connected, dispatch_uid=id(self))
        registry = current_registry()
        assert registry is not None
        if registry.fixed is None:
            self.production.refuse_production_default()
        names = sorted(self.tenants if self.tenants is not None else registry.fixed or ())
        for name in names:
            if registry.fixed is None:
                from django_cfg.tenants.models import Tenant

                Tenant._default_manager.using(DEFAULT_DB_ALIAS).get_or_create(name=name)
            alias = registry.alias_for(name)
            refuse_production(alias, "reuse" if self.keepdb else "drop and create")
            self._record(connections[alias])
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

    def _test_setting(self, setting: dict[str, Any]) -> dict[str, Any]:
        """The tenants setting while the tests run: the test template, no replicas (their
        templates name the production replicas), the production databases to refuse."""
        test_url = template_text(setting.get("test_url") or "") or tenant_test_template(
            template_text(setting["url"])
        )
        test_url = worker_template(test_url, self.worker)
        return {
            **setting,
            "url": SecretStr(test_url),
            "replica_urls": [],
            PRODUCTION_DATABASES: self.production,
        }

    def teardown(self) -> None:
        if self._setting is None:
            return
        connection_created.disconnect(dispatch_uid=id(self))
        try:
            registry = current_registry()
            for alias, (vendor, settings_dict) in sorted(self.opened.items()):
                name = tenant_of_alias(alias)
                if registry is not None and name is not None:
                    registry.close(name)
                if self.keepdb:
                    continue
                assert self.production is not None
                if self.production.owner(vendor, settings_dict) is not None:
                    self._log("Not destroying (a production database)", alias, settings_dict)
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
            if registry is not None and not self.keepdb:
                drop_template(registry)  # the test template new tenants were copied from
        finally:
            if self._override is not None:
                self._override.disable()
                self._override = None
        self._setting = None

    def _connected(self, connection: Any, **_: Any) -> None:
        """``connection_created``: a production tenant's database is refused (the connection
        is closed before any statement); a tenant's test database is recorded."""
        if connection.alias != NO_DB_ALIAS and self.production is not None:
            owner = self.production.owner(connection.vendor, connection.settings_dict)
            if owner is not None:
                connection.close()
                refuse_production(connection.alias, "use")
        self._record(connection)

    def _record(self, connection: Any) -> None:
        if tenant_of_alias(connection.alias) is not None:
            self.opened.setdefault(
                connection.alias, (connection.vendor, dict(connection.settings_dict))
            )

    def _log(self, what: str, alias: str, settings_dict: dict[str, Any]) -> None:
        if self.verbosity >= 1:
            sys.stderr.write(f"{what} for alias '{alias}' ('{settings_dict['NAME']}')...\n")


def _production_of_names(setting: dict[str, Any]) -> ProductionDatabases:
    """The production databases of ``TenantsConfig.names``; with the tenants table, refused:
    ``default`` is the test database by now, the production rows can no longer be read."""
    if setting.get("names") is None:
        raise ImproperlyConfigured(
            "tenant_test_databases(): with the tenants table, the production tenants must be "
            "read before Django's test databases replace default, so that no test database is "
            "a production tenant's: pass production=ProductionDatabases.read(), called in "
            "pytest-django's django_db_modify_db_settings fixture (docs/tenants.md, \"Testing a "
            'tenant project").'
        )
    return ProductionDatabases.read(setting)


@contextmanager
def tenant_test_databases(
    tenants: Sequence[str] | None = None,
    *,
    verbosity: int = 0,
    keepdb: bool = False,
    production: ProductionDatabases | None = None,
    worker: str | None = None,
) -> Iterator[None]:
    """The tenants' test databases for the block (pytest-django's ``django_db_setup``);
    ``production``: ``ProductionDatabases.read()`` before the test databases were set up;
    ``worker``: the pytest-xdist worker (``xdist_worker(request)``): its own databases."""
    databases = TenantTestDatabases(
        tenants,
        verbosity=verbosity,
        keepdb=keepdb,
        production=production,
        worker=worker,
    )
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
        # read while default is still the production database
        production = (
            ProductionDatabases.read() if getattr(settings, TENANTS_SETTING, None) else None
        )
        old_config = super().setup_databases(**kwargs)  # type: ignore[misc]
        tenants = TenantTestDatabases(
            self.tenants, verbosity=self.verbosity, keepdb=self.keepdb, production=production
        )
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
