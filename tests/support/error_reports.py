"""What Django's exception reporter shows of an exception: the DEBUG page, its text form and
the ADMINS e-mail, built by Django's own ``ExceptionReporter`` and ``AdminEmailHandler``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any

import django
import pytest
from django.core import mail
from django.test import RequestFactory
from django.utils.log import AdminEmailHandler
from django.views.debug import ExceptionReporter

ADMINS = ["ops@example.com"] if django.VERSION >= (6, 0) else [("ops", "ops@example.com")]
"""An ADMINS setting of the running Django version (6.0 takes addresses only)."""

MAIL_SETTINGS = {"ADMINS": ADMINS, "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}

ExcInfo = tuple[type[BaseException], BaseException, TracebackType]


def raise_in(call: Callable[..., Any], *args: Any) -> ExcInfo:
    """The exception ``call(*args)`` raises (any: what the reports show of it)."""
    with pytest.raises(Exception) as raised:
        call(*args)
    return raised.type, raised.value, raised.tb


def reports(exc_info: ExcInfo, **environ: str) -> dict[str, str]:
    """What Django shows of ``exc_info`` raised in a request (``environ``: more of its META,
    e.g. the environment variables that ``runserver`` copies there): the DEBUG page, its text,
    the ADMINS e-mail (subject, text and HTML part; needs ``MAIL_SETTINGS``)."""
    request = RequestFactory().get("/notes/", **environ)
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
