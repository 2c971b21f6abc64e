"""Runs the ```python blocks of a Markdown page inside the Django project in cwd (the example).

    cd examples/saas && python ../../tests/support/docs_snippets.py ../../docs/configuration.md

Each block runs as written, by what it is (``kind``):

- ``config``: an ``api/config.py`` (optionally with its ``# settings.py`` and
  ``# api/environment/loader.py`` parts) written into a package of its own, with the imports the
  docs show elsewhere prepended (``from django_cfg import ...``, ``from .environment import env``)
  and, when it defines none, an ``env`` (``EnvSettings`` with the URLs below). A fragment of a
  class body (indented) continues a ``MyDjangoConfig`` holding ``databases["default"]``. The
  config is built (``config`` or ``MyDjangoConfig()``) and rendered with ``get_all_settings()``,
  whose ``DATABASE_ROUTERS`` must import; its ``settings.py`` part runs against it.
- ``script``: statements at top level, run with those imports, ``env`` and a ``databases`` dict.
- ``settings``: lines of a settings module, run in a namespace holding the example's settings.
- ``shell``: run after ``django.setup()`` in the example project (its models imported).
- ``compile``: compiled only; ``REASONS`` says why each of these cannot run alone.

Prints one line per block and exits 1 when one fails or the page has none.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import tempfile
import traceback
from pathlib import Path

from django.utils.module_loading import import_string

IMPORTS = (
    "from django_cfg import (CacheConfig, DatabaseConfig, DjangoConfig, EmailConfig, "
    "TenantsConfig, databases_from_urls, use_primary, use_tenant)\n"
)

URLS = {  # rendered into settings only: no snippet of kind config or script connects
    "url": "postgresql://app@db.example.com/main",
    "url_replica": "postgresql://reader@replica.example.com/main",
    "url_blog": "postgresql://app@db.example.com/blog",
    "url_shop": "postgresql://app@db.example.com/shop",
    "url_cache": "postgresql://app@db.example.com/cache",
    "url_archive": "postgresql://app@archive.example.com/blog",
}

ENVIRONMENT = f"""\
from pydantic import BaseModel, SecretStr
from django_cfg import DatabaseURLs, EnvSettings


class Tenants(BaseModel):
    url: str = "sqlite:///db/tenants/{{tenant}}.sqlite3"
    db2_password: SecretStr = SecretStr("db2-s3cret")


class Environment(EnvSettings):
    secret_key: SecretStr | None = None
    database: DatabaseURLs = DatabaseURLs(**{URLS!r})
    tenants: Tenants = Tenants()
    saas_tenants: bool = False


env = Environment()
"""

CLASS_START = (
    "class MyDjangoConfig(DjangoConfig):\n"
    '    project_apps = ["apps.accounts", "apps.blog", "apps.shop"]\n'
    '    databases = {"default": DatabaseConfig.from_url(url=env.database.url)}\n'
)

REASONS = {
    ("cross-database-relations.md", "# apps/blog/models.py"): "a models.py excerpt (the "
    "example's apps/blog/models.py defines this Post)",
    ("replicas.md", "from django_cfg import use_primary"): "Account is the reader's model",
    ("tenants.md", "from django_cfg import use_tenant"): "Post and user of a tenant project",
    ("tenants.md", 'with use_tenant("acme"):\n    Post'): "a tenant project with replicas",
    ("tenants.md", 'with use_tenant("acme"):\n    send_invoice'): "a Celery task of the reader",
    ("tenants.md", "TASKS = "): "django.tasks (Django 6.0+) and the reader's task",
    ("tenants.md", "from django_cfg.tenants.tasks import TenantTasks"): "some_package is a "
    "placeholder for a third-party backend",
    ("tenants.md", "class NoteTests"): "a test case of a tenant project (Note)",
    ("tenants.md", "from django_cfg.tenants import TenantExistsError"): "a sign-up flow of a "
    "tenant project (tests/tenants/test_lifecycle.py runs the same calls)",
    ("tenants.md", "def acme_titles"): "Note and Copy are the reader's tenant models",
    ("tenants.md", "@pytest.fixture"): "a pytest fixture of a tenant project's suite",
    ("tenants.md", "from django_cfg.tenants.domains import add_domains"): "a tenant project "
    "with the tenants table (tests/tenants/test_tenant_tools.py calls add_domains so)",
    ("tenants.md", "from django.db import transaction"): "Order and Invoice are the reader's "
    "tenant models",
    ("tenants.md", 'with use_tenant("acme"):\n    cache.set'): "acme_stats is the reader's "
    "(tests/tenants/test_shared_services.py runs the same calls)",
    ("tenants.md", 'with use_tenant("acme"):\n    note.attachment'): "note and content are the "
    "reader's (tests/tenants/test_shared_services.py saves files the same way)",
    ("tenants.md", "order = Order.objects.create"): "Order and send_receipt are the reader's "
    "(tests/tenants/test_worker.py runs a worker)",
    ("tenants.md", "with transaction.atomic():\n    with use_tenant"): "notify is the reader's "
    "(tests/tenants/test_shared_services.py registers such callbacks)",
}

KINDS = {
    ("admin.md", "from django.contrib import admin"): "shell",
    ("architecture.md", "from django_cfg.runtime.added_databases import add_database"): "shell",
    ("configuration.md", "DatabaseConfig.from_url("): "script",
    ("configuration.md", "from django_cfg import CacheConfig"): "script",
    ("deployment.md", "DatabaseConfig.from_url("): "script",
    ("migrations.md", 'databases["cache_db"]'): "script",
    ("migrations.md", "DATABASE_ROUTING_RULES"): "settings",
    ("migrations.md", "CACHES = "): "settings",
    ("replicas.md", "from django_cfg.runtime.runtime import current_runtime"): "shell",
    ("routing.md", "# settings.py"): "settings",
    ("routing.md", "databases = {"): "script",
    ("routing.md", "DATABASE_ROUTERS"): "settings",
    ("tenants.md", "tenants = TenantsConfig("): "script",
    ("tenants.md", "# settings (DjangoConfig"): "settings",
    ("tenants.md", "import pytest"): "settings",
    ("tenants.md", "# examples/saas/api/config.py"): "excerpt",
    ("tenants.md", "CACHES = "): "settings",
    ("tenants.md", "STORAGES = "): "settings",
    ("tenants.md", "LOGGING = "): "settings",
}


def python_blocks(page: Path) -> list[tuple[int, str]]:
    """``(line, text)`` of each ```python block, less its fence's indentation (a list item's)."""
    text = page.read_text()
    return [
        (
            text[: found.start()].count("\n") + 1,
            "".join(
                line.removeprefix(found.group(1))
                for line in found.group(2).splitlines(keepends=True)
            ),
        )
        for found in re.finditer(r"^( *)```python\n(.*?)^ *```$", text, re.M | re.S)
    ]


def kind_of(page: str, block: str) -> str:
    for (name, start), kind in [*((k, "compile") for k in REASONS), *KINDS.items()]:
        if name == page and block.startswith(start):
            return kind
    return "config"


def parts(block: str) -> dict[str, str]:
    """The block split at its ``# api/config.py``, ``# settings.py`` and
    ``# api/environment/loader.py`` lines (a block without them is a config)."""
    found: dict[str, str] = {}
    name = "api/config.py"
    for line in block.splitlines(keepends=True):
        marker = line.strip().removeprefix("# ")
        if line.startswith("# ") and marker in {
            "api/config.py",
            "settings.py",
            "api/environment/loader.py",
        }:
            name = marker
        found[name] = found.get(name, "") + line
    return found


def run_config(block: str, number: int, folder: Path) -> None:
    package = folder / f"snippet_{number}"
    (package / "environment").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    pieces = parts(block)
    if "api/environment/loader.py" in pieces:
        (package / "environment" / "loader.py").write_text(pieces["api/environment/loader.py"])
        (package / "environment" / "__init__.py").write_text("from .loader import env\n")
    else:
        (package / "environment" / "__init__.py").write_text(ENVIRONMENT)
    if "api/config.py" not in pieces:  # a loader alone: it reads the environment
        importlib.import_module(f"snippet_{number}.environment").env.database  # noqa: B018
        return
    config = pieces["api/config.py"]
    if config.startswith(" "):
        config = CLASS_START + config
    (package / "config.py").write_text(IMPORTS + "from .environment import env\n" + config)
    module = importlib.import_module(f"snippet_{number}.config")
    instance = getattr(module, "config", None) or module.MyDjangoConfig()
    rendered = instance.get_all_settings()
    assert rendered["DATABASES"], "no DATABASES rendered"
    for router in rendered["DATABASE_ROUTERS"]:  # imported at the first query, not by check
        import_string(router)
    if "settings.py" in pieces:
        sys.modules["api.config"] = module
        try:
            exec(compile(pieces["settings.py"], "settings.py", "exec"), {})
        finally:
            del sys.modules["api.config"]


def namespace() -> dict[str, object]:
    """The imports, ``env`` (module ``docs_environment``) and ``databases["default"]``."""
    found: dict[str, object] = {}
    exec(IMPORTS, found)
    found["env"] = importlib.import_module("docs_environment").env
    found["databases"] = {"default": found["DatabaseConfig"].from_url(URLS["url"])}  # type: ignore[attr-defined]
    return found


def run_shell(block: str) -> None:
    import django

    django.setup()
    from apps.blog.models import Post
    from apps.shop.models import Product
    from django.contrib.auth import get_user_model

    values = {"Post": Post, "Product": Product, "User": get_user_model(), **namespace()}
    exec(compile(block, "<docs>", "exec"), values)


def without_comments(code: str) -> str:
    """Each line without its ``# comment`` and trailing blanks (no ``#`` in strings here)."""
    return "\n".join(line.partition("  #")[0].rstrip() for line in code.splitlines())


def run(page: Path) -> int:
    blocks = python_blocks(page)
    folder = Path(tempfile.mkdtemp(prefix="docs-snippets-"))
    (folder / "docs_environment.py").write_text(ENVIRONMENT)
    sys.path.insert(0, str(folder))
    failed = 0
    for number, (line, block) in enumerate(blocks):
        kind = kind_of(page.name, block)
        try:
            if kind == "config":
                run_config(block, number, folder)
            elif kind == "script":
                exec(compile(block, "<docs>", "exec"), namespace())
            elif kind == "settings":
                exec(compile(block, "settings.py", "exec"), {})
            elif kind == "shell":
                run_shell(block)
            elif kind == "excerpt":  # the code of one of the example's files, comments aside
                first, _, code = block.partition("\n")
                source = Path(first.removeprefix("# ")).relative_to("examples/saas")
                assert without_comments(code) in without_comments(source.read_text()), source
            else:
                compile(block, "<docs>", "exec")
            print(f"{page.name}:{line} {kind}: ok")
        except Exception:
            failed += 1
            print(f"{page.name}:{line} {kind}: FAILED\n{traceback.format_exc()}")
    print(f"{page.name}: {len(blocks)} blocks, {failed} failed")
    return 1 if failed or not blocks else 0


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "api.settings")
    sys.exit(run(Path(sys.argv[1])))
