"""What the tenant commands (create_tenant, drop_tenant, move_tenant) share.

registry = tenants_registry()             # or a CommandError: the project has no tenants
add_noinput_argument(parser)              # --noinput / --no-input, as Django's commands
confirm(options, "Remove tenant 'acme'?") # asks unless --noinput; CommandError if not 'yes'
                                          # (or if nobody can answer: no terminal)
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from django_cfg.tenants.registry import TenantRegistry, current_registry

__all__ = ["add_noinput_argument", "confirm", "tenants_registry"]


def tenants_registry() -> TenantRegistry:
    """The project's tenant registry, or a CommandError saying how to configure tenants."""
    registry = current_registry()
    if registry is None:
        raise CommandError(
            "This project has no tenants: set DjangoConfig.tenants = TenantsConfig(...) "
            "(docs/tenants.md)."
        )
    return registry


def add_noinput_argument(parser: CommandParser) -> None:
    parser.add_argument(
        "--noinput",
        "--no-input",
        action="store_false",
        dest="interactive",
        help="Do not ask for confirmation.",
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
