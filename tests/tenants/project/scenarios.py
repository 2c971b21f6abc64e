"""Scenarios several tenant test modules run in the tenant project (TenantProject.scenario);
a scenario of one test module only is in that module. Models are imported inside the functions:
the test process, which imports this module too, has no tenant apps."""

from __future__ import annotations

import datetime
import hashlib
import io
from pathlib import Path
from typing import Any

from django.core.management import CommandError, call_command
from django.db import connections

from django_cfg import use_tenant
from django_cfg.routing.read_only import ReadOnlyDatabaseError
from django_cfg.settings.tenant_names import tenant_alias
from tests.support.subprocess_project import wait_for


def tenant_where(name: str) -> dict[str, Any]:
    """Where this process has tenant ``name``'s database now (the password as a digest)."""
    settings_dict = connections[tenant_alias(name)].settings_dict
    password = str(settings_dict.get("PASSWORD") or "")
    return {
        "name": str(settings_dict["NAME"]),
        "host": settings_dict.get("HOST") or "",
        "password_sha256": hashlib.sha256(password.encode()).hexdigest() if password else "",
    }


def write_or_refusal(name: str, title: str) -> str:
    from tests.tenants.project.notes.models import Note

    try:
        with use_tenant(name):
            Note.objects.create(title=title)
    except ReadOnlyDatabaseError as error:
        return f"{type(error).__name__}: {error}"
    return "written"


def tenant_titles(name: str) -> list[str]:
    from tests.tenants.project.notes.models import Note

    with use_tenant(name):
        return sorted(Note.objects.values_list("title", flat=True))


def write(names: list[str]) -> dict[str, Any]:
    """One note per tenant, titled after the tenant."""
    from tests.tenants.project.notes.models import Note

    for name in names:
        with use_tenant(name):
            Note.objects.create(title=f"{name}-row")
    return {}


def seed(args: list[str]) -> dict[str, Any]:
    """Tags and notes in tenant NAME, with a gap in the notes' keys (the third is deleted), and
    a delete intent (a datetime)."""
    from tests.tenants.project.notes.models import Note, Tag

    (name,) = args
    with use_tenant(name):
        tags = [Tag.objects.create(name=f"tag{i}") for i in range(2)]
        notes = [
            Note.objects.create(title=f"{name}-{i}", tag=tags[i % 2] if i < 3 else None)
            for i in range(5)
        ]
        notes[2].delete()
        rows = list(Note.objects.order_by("pk").values_list("pk", "title", "tag_id"))
    from django_cfg.models import DeleteIntent

    DeleteIntent.objects.using(tenant_alias(name)).create(  # a datetime with microseconds
        token="seeded",
        database=tenant_alias(name),
        model="notes.Note",
        pks="[]",
        created=datetime.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=datetime.UTC),
    )
    return {"notes": rows}


def try_write(args: list[str]) -> dict[str, Any]:
    """A write in a process started now: written, or the refusal; where the tenant is."""
    name, title = args
    written = write_or_refusal(name, title)
    return {"write": written, "titles": tenant_titles(name), **tenant_where(name)}


def held_move(args: list[str]) -> dict[str, Any]:
    """``move_tenant NAME --url URL`` held at POINT ("copy": before the copy, "verify": after
    it) until FOLDER/release exists; FOLDER/held says it is there."""
    from django_cfg.management.commands import move_tenant

    name, url, folder_text, point = args
    folder = Path(folder_text)
    copy_rows = move_tenant.copy_rows

    def hold() -> None:
        (folder / "held").touch()
        wait_for(folder / "release")

    def held_copy(*a: Any, **kw: Any) -> Any:
        if point == "copy":
            hold()
        copied = copy_rows(*a, **kw)
        if point == "verify":
            hold()
        return copied

    move_tenant.copy_rows = held_copy  # type: ignore[assignment]
    stdout = io.StringIO()
    try:
        call_command("move_tenant", name, url=url, interactive=False, stdout=stdout)
    except CommandError as error:
        return {"ok": False, "error": str(error), "out": stdout.getvalue()}
    return {"ok": True, "out": stdout.getvalue()}


def error_of(call: Any) -> str:
    """``call()``: "no error", or the exception it raised as ``Type: message``."""
    try:
        call()
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return "no error"


class Rollback(Exception):
    """Raised to leave an ``atomic()`` block by rolling it back."""
