"""``python -m tests.tenants.project.run manage ARGS`` or ``... run MODULE:FUNCTION ARGS``: the
tenant project's manage.py, or a scenario run in it (tests/tenants/project_support.py): the
JSON of what ``FUNCTION([ARGS])`` returns."""

import importlib
import json
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
        module, _, function = sys.argv[1].partition(":")
        scenario = getattr(importlib.import_module(module), function)
        print(json.dumps(scenario(sys.argv[2:])))
