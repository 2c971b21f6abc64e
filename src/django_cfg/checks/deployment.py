"""System checks of a deployment's settings: keys, environment, fallbacks, mail, poolers.

django_cfg.W020  (check --deploy) SECRET_KEY is the development key
django_cfg.W021  (check --deploy) DJANGO_ENV is a development one (unset, dev, test)
django_cfg.W022  (check --deploy) a database is the spec loader's SQLite fallback
django_cfg.W024  (check --deploy) AUTH_PASSWORD_VALIDATORS is empty
django_cfg.W025  (check --deploy) EMAIL_BACKEND keeps mail (console, file, locmem, dummy)
django_cfg.W060  a PostgreSQL URL looks pooled (port 6432, 'pgbouncer' in the host) but does
                 not say which pooler mode (``?pooler=transaction`` or ``session``)
django_cfg.E061  a database behind a transaction pooler keeps state on a server connection:
                 server-side prepared statements (``prepare_threshold``) or server-side cursors
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning

from django_cfg.settings.django_env import ENVIRONMENT_VARIABLE, current_environment
from django_cfg.settings.pooler import POOLER_KEY, behind_transaction_pooler, looks_pooled
from django_cfg.settings.production import fallback_url, is_development
from django_cfg.settings.url import base_engine, engine_family, server_list, shown_servers


def check_development_key(**_: Any) -> list[CheckMessage]:
    from django_cfg.settings.development_key import development_key_origin, is_development_key

    key = getattr(settings, "SECRET_KEY", "")
    if not (isinstance(key, str) and is_development_key(key)):
        return []
    return [
        Warning(
            f"SECRET_KEY is django_cfg's development key ({development_key_origin(key)}), used "
            "because secret_key is not set and the environment is a development one "
            "(DJANGO_ENV unset, dev or test). Anyone who can read that file can sign sessions "
            "and cookies.",
            hint="For a deployment set DJANGO_ENV=prod (or staging, ...) and a SECRET_KEY of 50+ "
            "random characters (secret_key = env.secret_key); django_cfg then refuses to start "
            "without it.",
            id="django_cfg.W020",
        )
    ]


def check_development_environment(**_: Any) -> list[CheckMessage]:
    environment = current_environment()
    if not is_development(environment):
        return []
    return [
        Warning(
            f"{ENVIRONMENT_VARIABLE} is {os.environ.get(ENVIRONMENT_VARIABLE) or 'unset'} "
            f"(environment {environment!r}): django_cfg's development defaults apply (DEBUG on, "
            "the development key, the loaders' SQLite fallbacks, no HTTPS redirect).",
            hint=f"Run the deployment checks as the deployment runs: {ENVIRONMENT_VARIABLE}=prod "
            "python manage.py check --deploy (or staging, ...).",
            id="django_cfg.W021",
        )
    ]


def check_fallback_databases(**_: Any) -> list[CheckMessage]:
    base_dir = Path(getattr(settings, "BASE_DIR", None) or os.getcwd())
    messages: list[CheckMessage] = []
    for alias, entry in settings.DATABASES.items():
        relative = _relative_to(Path(str(entry.get("NAME") or "")), base_dir)
        fallback = fallback_url(alias, base_engine(str(entry.get("ENGINE", ""))), relative)
        if fallback is None:
            continue
        url, variable = fallback
        messages.append(
            Warning(
                f"Database {alias!r} is {url}, the specification loader's built-in default, and "
                f"{variable} is not set in the process environment.",
                hint=f"Set {variable} to the deployment's database URL (or, to run on that "
                f"SQLite file on purpose, set it explicitly: {variable}={url}).",
                id="django_cfg.W022",
            )
        )
    return messages


def _relative_to(path: Path, base_dir: Path) -> str:
    return path.relative_to(base_dir).as_posix() if path.is_relative_to(base_dir) else str(path)


def check_password_validators(**_: Any) -> list[CheckMessage]:
    if getattr(settings, "AUTH_PASSWORD_VALIDATORS", None):
        return []
    return [
        Warning(
            "AUTH_PASSWORD_VALIDATORS is empty: any password is accepted, '1' included.",
            hint="Leave DjangoConfig.password_validators at its default (startproject's four "
            "validators) or list your own.",
            id="django_cfg.W024",
        )
    ]


_KEPT_MAIL = {"console", "filebased", "locmem", "dummy"}


def check_email_backend(**_: Any) -> list[CheckMessage]:
    backend = str(getattr(settings, "EMAIL_BACKEND", ""))
    kind = backend.rsplit(".", 2)[-2] if backend.count(".") >= 2 else ""
    if not backend.startswith("django.core.mail.backends.") or kind not in _KEPT_MAIL:
        return []
    return [
        Warning(
            f"EMAIL_BACKEND is {backend}: mail (password resets, error reports) is never sent.",
            hint="Set DjangoConfig.email from an e-mail URL, e.g. EMAIL_URL=smtp+tls://user:"
            "password@mail.example.com:587 and email = env.email_url.",
            id="django_cfg.W025",
        )
    ]


def check_pooled_urls(**_: Any) -> list[CheckMessage]:
    return [
        Warning(
            f"Database {alias!r} looks like it goes through a connection pooler (PgBouncer: "
            f"{shown_servers(entry.get('HOST') or '', entry.get('PORT'))}) but its pooler mode "
            "is not set. Behind a "
            "transaction pooler, .iterator() fails ('cursor ... does not exist') and "
            "session-level state (locks, settings) passes between clients.",
            hint="Add ?pooler=transaction to its URL (or DatabaseConfig(pooler='transaction')); "
            "?pooler=session if the pooler runs in session mode. See docs/deployment.md.",
            id="django_cfg.W060",
        )
        for alias, entry in settings.DATABASES.items()
        if engine_family(base_engine(str(entry.get("ENGINE", "")))) == "postgresql"
        and POOLER_KEY not in entry
        and looks_pooled(server_list(str(entry.get("HOST") or ""), entry.get("PORT") or None))
    ]


def check_transaction_pooler_session_state(**_: Any) -> list[CheckMessage]:
    """E061: what a transaction pooler breaks, set on a database declared behind one (a
    ``DATABASES`` entry changed after ``DjangoConfig`` wrote it, or written by hand)."""
    messages: list[CheckMessage] = []
    for alias, entry in settings.DATABASES.items():
        if not behind_transaction_pooler(entry):
            continue
        threshold = (entry.get("OPTIONS") or {}).get("prepare_threshold")
        if threshold is not None:
            messages.append(
                Error(
                    f"Database {alias!r} is behind a transaction pooler (POOLER = "
                    f"'transaction') but OPTIONS['prepare_threshold'] is {threshold!r}: with "
                    "server-side binding psycopg prepares a statement on one server connection "
                    'and runs it later on whichever the pooler hands out ("prepared statement '
                    "... does not exist\", or another client's statement of the same name).",
                    hint=f"Remove prepare_threshold from DATABASES[{alias!r}]['OPTIONS'] "
                    "(django_cfg sets it to None, psycopg's 'never prepare', behind a "
                    "transaction pooler). See docs/deployment.md#behind-pgbouncer.",
                    id="django_cfg.E061",
                )
            )
        if not entry.get("DISABLE_SERVER_SIDE_CURSORS"):
            messages.append(
                Error(
                    f"Database {alias!r} is behind a transaction pooler (POOLER = "
                    "'transaction') but DISABLE_SERVER_SIDE_CURSORS is not true: .iterator() "
                    "fetches from a cursor that lives on another server connection "
                    '("cursor ... does not exist").',
                    hint=f"Set DATABASES[{alias!r}]['DISABLE_SERVER_SIDE_CURSORS'] = True (as "
                    "?pooler=transaction does). See docs/deployment.md#behind-pgbouncer.",
                    id="django_cfg.E061",
                )
            )
    return messages
