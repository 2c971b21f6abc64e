"""Shows what the configuration produced and where a row lands: python demo.py (after migrate)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "api.settings")
django.setup()

from api.config import config  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connections  # noqa: E402

print(f"environment: {config.environment} (debug={config.debug})")
for alias, database in config.databases.items():
    print(f"database {alias!r}: {database}  ->  NAME={settings.DATABASES[alias]['NAME']}")

User = get_user_model()
user, created = User.objects.get_or_create(username="john", defaults={"email": "john@example.com"})
with connections[user._state.db].cursor() as cursor:
    cursor.execute("SELECT COUNT(*) FROM auth_user WHERE username = %s", ["john"])
    (count,) = cursor.fetchone()
print(
    f"user {user.username!r} {'created' if created else 'found'} in {user._state.db!r} "
    f"({connections[user._state.db].vendor}); rows with that name there: {count}"
)
