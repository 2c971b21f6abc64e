"""A connection of its own to one configured database, for probes (lag, ``db_status``).

    probe = own_connection("replica", connect_timeout=2)
    node = own_connection("default", 2, server=("db2", 5432))   # one host of a multi-host URL

It leaves the project's connections alone, connects to the server itself (never a replica's
failover to its primary), is one connection (never a pool), and gives up after
``connect_timeout`` seconds on PostgreSQL and MySQL (whatever the alias's own OPTIONS say).
"""

from __future__ import annotations

import copy
from typing import Any

from django.db import connections
from django.db.utils import load_backend

from django_cfg.settings.url import base_engine, engine_family

__all__ = ["own_connection"]


def own_connection(
    alias: str, connect_timeout: int, *, server: tuple[str, int | str | None] | None = None
) -> Any:
    """``server``: that one host and port of the alias's servers, whatever its role."""
    settings_dict = copy.deepcopy(connections.settings[alias])
    settings_dict["ENGINE"] = base_engine(settings_dict["ENGINE"])
    options = settings_dict.setdefault("OPTIONS", {})
    options.pop("pool", None)
    if engine_family(settings_dict["ENGINE"]) in {"postgresql", "mysql"}:
        options["connect_timeout"] = max(1, connect_timeout)  # libpq: whole seconds, 2 at least
    if server is not None:
        settings_dict["HOST"], settings_dict["PORT"] = server[0], server[1] or ""
        options.pop("target_session_attrs", None)
        options.pop("load_balance_hosts", None)
    return load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, alias)
