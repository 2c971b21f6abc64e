"""What ``management/tenant_database_option.py`` relies on in Django: each command it extends
has a ``--database`` option (dest ``database``) whose choices are the aliases of ``connections``,
and argparse checks a value with ``in``. A Django release that changes either fails here; in a
project without tenants the option is Django's, with a tenant alias still refused."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, load_command_class
from django.db import connections

from django_cfg.management.tenant_database_option import TenantAliases, database_action

EXTENDED = ("migrate", "dumpdata", "loaddata", "dbshell", "sqlmigrate", "showmigrations")


@pytest.mark.parametrize("command", EXTENDED)
def test_djangos_command_has_the_database_option_the_package_extends(command: str) -> None:
    django_command = load_command_class("django.core", command)
    parser = django_command.create_parser("manage.py", command)
    action = database_action(parser)
    assert action.dest == "database"
    assert tuple(action.choices or ()) == tuple(connections)
    ours = load_command_class("django_cfg", command)
    assert isinstance(ours, type(django_command))  # Django's command, extended
    assert isinstance(
        database_action(ours.create_parser("manage.py", command)).choices, TenantAliases
    )


def test_the_shell_gains_the_option() -> None:
    parser = load_command_class("django_cfg", "shell").create_parser("manage.py", "shell")
    assert database_action(parser).default == "default"


def test_without_tenants_a_tenant_alias_is_still_an_invalid_choice() -> None:
    parser = load_command_class("django_cfg", "migrate").create_parser("manage.py", "migrate")
    with pytest.raises(CommandError, match="invalid choice: 'tenant_acme'"):
        parser.parse_args(["--database", "tenant_acme"])
    assert parser.parse_args(["--database", "default"]).database == "default"
