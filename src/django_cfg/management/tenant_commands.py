"""What the tenant commands (create_tenant, drop_tenant, move_tenant) share.

registry = tenants_registry()             # or a CommandError: the project has no tenants
add_tenant_url_option(parser, "Its new database URL")  # --url, stored: no password in it
confirm(options, "Remove tenant 'acme'?") # asks unless --noinput; CommandError if not 'yes'
                                          # (or if nobody can answer: no terminal)
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from django_cfg.tenants.registry import TenantRegistry, current_registry

__all__ = ["add_tenant_url_option", "confirm", "tenants_registry"]


def tenants_registry() -> TenantRegistry:
    """The project's tenant registry, or a CommandError saying how to configure tenants."""
    registry = current_registry()
    if registry is None:
        raise CommandError(
            "This project has no tenants: set DjangoConfig.tenants = TenantsConfig(...) "
            "(docs/tenants.md)."
        )
    return registry


def add_tenant_url_option(parser: CommandParser, what: str) -> None:
    """``--url URL``: ``what``, stored in the tenants table, hence without a password."""
    parser.add_argument(
        "--url",
        help=f"{what}, without a password (TenantsConfig.passwords or the template's applies).",
    )


def confirm(options: dict[str, Any], question: str) -> None:
    """Ask ``question`` unless --noinput; anything but 'yes' cancels (CommandError)."""
    if options["interactive"]:
        try:
            answer = input(f"{question} Type 'yes' to continue: ")
        except EOFError:  # no terminal (a script, CI): nobody can answer
            raise CommandError(
                "No answer: the input is not a terminal (or was closed). Pass --noinput to "
                "run without confirmation."
            ) from None
        if answer != "yes":
            raise CommandError("Cancelled.")
