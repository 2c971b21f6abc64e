"""The example's tenant mode: each tenant's projects in its own database, users shared.

Run by ``scripts/example.sh --tenants`` (SAAS_TENANTS=1) after create_tenant and migrate_all:

    SAAS_TENANTS=1 python tenants_demo.py acme globex
"""

import logging
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "api.settings")
os.environ.setdefault("SAAS_TENANTS", "1")
django.setup()

from apps.projects.models import Project  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connections  # noqa: E402
from django.test import Client  # noqa: E402

from django_cfg import NoTenantError, use_tenant  # noqa: E402

User = get_user_model()
names = sys.argv[1:] or ["acme", "globex"]


def files_holding(model, column, value):
    """The database files (or names) whose table for ``model`` has a row with ``column = value``
    (raw SQL on every open database: default, blog_db, shop_db and the tenants opened so far)."""
    found = []
    for alias in connections:
        connection = connections[alias]
        with connection.cursor() as cursor:
            if model._meta.db_table not in connection.introspection.table_names(cursor):
                continue
            table = model._meta.db_table
            cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE {column} = %s", [value])
            if cursor.fetchone()[0]:
                name = str(connection.settings_dict["NAME"])
                found.append(os.path.relpath(name, settings.BASE_DIR) if "/" in name else name)
    return found


tenant_apps = settings.DJANGO_CFG_TENANTS["apps"]
print(f"tenants: {', '.join(names)}; tenant apps: {', '.join(tenant_apps)}")
owner, _ = User.objects.get_or_create(username="john", defaults={"email": "john@example.com"})
print(
    f"user {owner.username!r} (shared): rows in {files_holding(User, 'username', owner.username)}"
)

for name in names:
    with use_tenant(name):
        project, _ = Project.objects.get_or_create(name=f"{name} launch", owner=owner)
        print(
            f"tenant {name!r}: project {project.pk} {project.name!r} on {project._state.db}: "
            f"rows in {files_holding(Project, 'name', project.name)}"
        )
        fresh = Project.objects.get(pk=project.pk)
        print(f"tenant {name!r}: project.owner (read from default): {fresh.owner.username!r}")

first, second = names[0], names[1]
with use_tenant(second):
    seen = Project.objects.filter(name=f"{first} launch").count()
    print(f"tenant {second!r} sees {first}'s projects: {seen} row(s)")
try:
    Project.objects.count()
except NoTenantError as error:
    print(f"no tenant selected: NoTenantError: {str(error).split(' Select one')[0]}")

logging.getLogger("django.request").setLevel(logging.ERROR)  # the 404 below is expected
client = Client()
for name in [*names, "nosuch"]:
    response = client.get("/projects/", HTTP_HOST=f"{name}.localhost")
    body = response.json() if response.status_code == 200 else ""
    print(f"GET http://{name}.localhost/projects/ -> {response.status_code} {body}".rstrip())
