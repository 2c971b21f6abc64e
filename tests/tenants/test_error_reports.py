"""No tenant URL or password in Django's error reports (docs/tenants.md, "Secrets").

Each test raises an exception in the package's tenant code with a tenant template, a replica
template and ``TenantsConfig.passwords`` that hold passwords, and renders it the way Django
does: the DEBUG page (``ExceptionReporter.get_traceback_html``, with every frame's local
variables and the settings), its text form, and the ADMINS e-mail (``AdminEmailHandler`` with
its HTML part, sent to the locmem outbox). None of them may show a password.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import OperationalError
from django.test import override_settings

from django_cfg import TenantsConfig
from django_cfg.settings.routers import ROUTER_PATH
from django_cfg.settings.tenant_names import TENANTS_ROUTER
from django_cfg.tenants.context import use_tenant
from django_cfg.tenants.credentials import check_storable_url
from django_cfg.tenants.errors import UnknownTenantError
from django_cfg.tenants.provisioning import create_database
from django_cfg.tenants.registry import current_registry
from tests.apps.testapp.models import Note
from tests.support.error_reports import MAIL_SETTINGS, raise_in, reports

SECRETS = ("S3cr3tTemplatePw", "R3plicaPw", "Db2ServerPw", "StoredUrlPw")
TEMPLATE = "postgresql://app:S3cr3tTemplatePw@127.0.0.1:1/t_{tenant}"
STORED_URL = "postgresql://app:StoredUrlPw@db2.example.com/t_big"


@pytest.fixture
def tenants() -> Iterator[None]:
    """Tenant acme (TenantsConfig.names) on a PostgreSQL template with a password; its server
    refuses every connection (port 1)."""
    config = TenantsConfig(
        apps=["testapp"],
        url=TEMPLATE,
        replica_url="postgresql://app:R3plicaPw@127.0.0.1:1/t_{tenant}",
        names=["acme"],
        passwords={"app@db2.example.com": "Db2ServerPw"},
    )
    with override_settings(DJANGO_CFG_TENANTS=config.setting(), **MAIL_SETTINGS):
        yield
        registry = current_registry()
        assert registry is not None
        for name in list(registry.open):
            registry.close(name)


def assert_no_secret(shown: dict[str, str]) -> None:
    for where, text in shown.items():
        assert "DJANGO_CFG_TENANTS" in text, where  # the setting is listed, hidden
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} in the {where}"


def test_a_failure_while_a_tenant_database_is_added_shows_no_password(
    tenants: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tenant's connection settings (with the template's password) are built, then adding
    them fails: a fault injected where Django's connections get them (``add_connection``)."""

    def fail(alias: str, settings_dict: dict[str, Any]) -> None:
        raise RuntimeError(f"cannot add {alias}")

    monkeypatch.setattr("django_cfg.patches.add_connection", fail)
    registry = current_registry()
    assert registry is not None
    exc_info = raise_in(registry.alias_for, "acme")
    assert str(exc_info[1]) == "cannot add tenant_acme"
    shown = reports(exc_info)
    assert_no_secret(shown)
    # the frames are there, their variables hidden the way sensitive_variables does
    assert "in _open" in shown["text"]
    assert "add_database" in shown["html"]
    assert "&#x27;********************&#x27;" in shown["html"]


def test_an_unknown_tenant_shows_no_password(tenants: None) -> None:
    registry = current_registry()
    assert registry is not None
    exc_info = raise_in(registry.alias_for, "nosuch")
    assert exc_info[0] is UnknownTenantError
    assert_no_secret(reports(exc_info))


def test_a_stored_url_with_a_password_refused_shows_no_password(tenants: None) -> None:
    """``create_tenant --url`` (or its Python API in a sign-up view) refuses a URL holding a
    password: the refusal's report shows neither it nor the URL's password."""
    exc_info = raise_in(lambda: check_storable_url(STORED_URL))  # not a local of a frame here
    assert "holds a password" in str(exc_info[1])
    assert_no_secret(reports(exc_info))


def test_an_open_tenants_database_settings_show_no_password(tenants: None) -> None:
    """Tenant acme open (its ``DATABASES`` entry added at run time, with the template's
    password): any later error lists that entry with Django's own PASSWORD cleansing."""
    registry = current_registry()
    assert registry is not None
    assert registry.alias_for("acme") == "tenant_acme"
    exc_info = raise_in(lambda: 1 / 0)
    shown = reports(exc_info)
    assert_no_secret(shown)
    assert "&#x27;tenant_acme&#x27;" in shown["html"]  # listed in DATABASES
    assert "&#x27;tenant_acme.replica&#x27;" in shown["html"]


@pytest.mark.parametrize("debug", [True, False], ids=["debug", "production"])
def test_a_tenant_whose_server_refuses_shows_no_password(
    tenants: None, django_db_blocker: Any, debug: bool
) -> None:
    """A query of tenant acme connects to the template's server, which refuses: Django's own
    frames (``get_new_connection``'s ``conn_params``) and psycopg's (the connection string)
    hold the template's password; the page and the e-mail show them without it."""
    routers = [TENANTS_ROUTER, ROUTER_PATH]  # as DjangoConfig(tenants=...) sets them
    with (
        override_settings(DATABASE_ROUTERS=routers),
        django_db_blocker.unblock(),
        use_tenant("acme"),
    ):
        exc_info = raise_in(Note.objects.count)
    assert exc_info[0] is OperationalError, exc_info[1]
    with override_settings(DEBUG=debug):
        shown = reports(exc_info)
    assert_no_secret(shown)
    assert "conn_params" in shown["html"]  # Django's frame and its variables are shown
    assert "&#x27;password&#x27;: &#x27;********************&#x27;" in shown["html"]


def test_create_tenant_on_a_server_that_refuses_shows_no_password(
    tenants: None, django_db_blocker: Any
) -> None:
    """``create_database`` (``create_tenant``) runs Django's ``_nodb_cursor``, a generator
    that tries the tenant's server twice (its 'postgres' database, then another name)."""
    registry = current_registry()
    assert registry is not None
    registry.alias_for("acme")
    with django_db_blocker.unblock(), pytest.warns(RuntimeWarning, match="'postgres' database"):
        exc_info = raise_in(create_database, "tenant_acme")
    assert exc_info[0] is OperationalError
    with override_settings(DEBUG=True):
        shown = reports(exc_info)
    assert_no_secret(shown)
    assert "_nodb_cursor" in shown["html"]
