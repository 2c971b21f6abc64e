"""The package's routers as ``DATABASE_ROUTERS`` names them.

DATABASE_ROUTERS = [ROUTER_PATH]       # what DjangoConfig writes with a second database
router_installed(settings.DATABASE_ROUTERS)   # True
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["LEGACY_ROUTER_PATH", "ROUTER_PATH", "router_installed"]

ROUTER_PATH = "django_cfg.routing.router.DatabaseRouter"
"""What ``DjangoConfig`` puts in DATABASE_ROUTERS when more than one database is configured."""
LEGACY_ROUTER_PATH = "django_cfg.databases.router.DatabaseRouter"
"""The path django-cfg 0.1 wrote into DATABASE_ROUTERS; settings written then keep working."""


def router_installed(routers: Iterable[Any]) -> bool:
    """Whether DATABASE_ROUTERS holds the package's router (as a path or an instance)."""
    return any(
        r in (ROUTER_PATH, LEGACY_ROUTER_PATH)
        or f"{type(r).__module__}.{type(r).__qualname__}" == ROUTER_PATH
        for r in routers
    )
