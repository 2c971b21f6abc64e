"""Writes rows and reads each one straight back; prints how many reads did not find their row.

    cd <project> && python staleness_probe.py 200      ->  "stale 161 of 200 (replica 161)"

Run in a project whose settings module is ``settings``; used to compare routers side by side.
"""

import os
import sys
import uuid

import django

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402

User = get_user_model()
rounds = int(sys.argv[1])
stale = 0
for number in range(rounds):
    user = User.objects.create_user(username=f"probe-{number}-{uuid.uuid4().hex[:8]}")
    if not User.objects.filter(pk=user.pk).exists():
        stale += 1
print(f"stale {stale} of {rounds}")
