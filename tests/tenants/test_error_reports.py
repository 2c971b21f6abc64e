"""No tenant URL or password in Django's error reports (docs/tenants.md, "Secrets").

Each test raises an exception in the package's tenant code with a tenant template, a replica
template and ``TenantsConfig.passwords`` that hold passwords, and renders it the way Django
does: the DEBUG page (``ExceptionReporter.get_traceback_html``, with every frame's local
variables and the settings), its text form, and the ADMINS e-mail (``AdminEmailHandler`` with
its HTML part, sent to the locmem outbox). None of them may show a password.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import django
import pytest
from django.core import mail
from django.test import RequestFactory, override_settings
from django.utils.log import AdminEmailHandler
from django.views.debug import ExceptionReporter

from django_cfg import TenantsConfig
from django_cfg.tenants.context import UnknownTenantError
from django_cfg.tenants.credentials import check_storable_url
from django_cfg.tenants.registry import current_registry

SECRETS = ("S3cr3tTemplatePw", "R3plicaPw", "Db2ServerPw", "StoredUrlPw")
TEMPLATE = "postgresql://app:S3cr3tTemplatePw@127.0.0.1:1/t_{tenant}"
STORED_URL = "postgresql://app:StoredUrlPw@db2.example.com/t_big"
ADMINS = ["ops@example.com"] if django.VERSION >= (6, 0) else [("ops", "ops@example.com")]

ExcInfo = tuple[type[BaseException], BaseException, TracebackType]


@pytest.fixture
def tenants() -> Iterator[None]:
    """Tenant acme (TenantsConfig.names) on a PostgreSQL template with a password; nothing
    connects to it (port 1)."""
    config = TenantsConfig(
        apps=["testapp"],
        url=TEMPLATE,
        replica_url="postgresql://app:R3plicaPw@127.0.0.1:1/t_{tenant}",
        names=["acme"],
        passwords={"app@db2.example.com": "Db2ServerPw"},
    )
    with override_settings(
        DJANGO_CFG_TENANTS=config.setting(),
        ADMINS=ADMINS,
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    ):
        yield
        registry = current_registry()
        assert registry is not None
        for name in list(registry.open):
            registry.close(name)


def reports(exc_info: ExcInfo) -> dict[str, str]:
    """What Django shows of ``exc_info`` raised in a request: the DEBUG page, its text, the
    ADMINS e-mail (subject, text and HTML part)."""
    request = RequestFactory().get("/notes/")
    reporter = ExceptionReporter(request, *exc_info)
    shown = {"html": reporter.get_traceback_html(), "text": reporter.get_traceback_text()}
    mail.outbox = []
    record = logging.LogRecord(
        "django.request", logging.ERROR, __file__, 1, "Internal Server Error: %s",
        ("/notes/",), exc_info,
    )  # fmt: skip
    record.request = request
    AdminEmailHandler(include_html=True).emit(record)
    (message,) = mail.outbox
    shown["mail"] = "\n".join([message.subject, message.body, message.alternatives[0][0]])
    return shown


def assert_no_secret(shown: dict[str, str]) -> None:
    for where, text in shown.items():
        assert "DJANGO_CFG_TENANTS" in text, where  # the setting is listed, hidden
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} in the {where}"


def raise_in(call: Any, *args: Any) -> ExcInfo:
    with pytest.raises(Exception) as raised:  # any exception: what the reports show of it
        call(*args)
    return raised.type, raised.value, raised.tb


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
