"""``python -m tests.tenants.project.run manage ARGS`` or ``... run SCENARIO``: the tenant
project's manage.py, and the scenarios tests/tenants runs in it (each prints JSON)."""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.tenants.project.settings")

if __name__ == "__main__":
    if sys.argv[1] == "manage":
        from django.core.management import execute_from_command_line

        execute_from_command_line(["manage.py", *sys.argv[2:]])
    else:
        import django

        django.setup()
        from tests.tenants.project import scenarios

        scenarios.run(sys.argv[1], sys.argv[2:])
