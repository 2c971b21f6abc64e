"""A mixed write load on one SQLite file from several threads; prints what failed, as JSON.

    python -m tests.support.sqlite_load <sqlite URL> <threads> <operations per thread>

Run in its own process (tests/routing/test_sqlite_locking.py does), with settings built from the
URL by ``DatabaseConfig``, so the database gets exactly the options a project would. Each thread
cycles through three operations, each a transaction as an application writes them:

- ``atomic()`` that reads a row and then updates it (the read takes SQLite's shared lock, the
  update must upgrade it: with a DEFERRED transaction two such writers deadlock and SQLite
  answers "database is locked" at once, without waiting for ``timeout``);
- ``get_or_create`` on a shared set of names (a read, then an INSERT in its own atomic block);
- ``atomic()`` around ``get_or_create`` and an update.

Output: ``{"operations": n, "locked": n, "other_errors": {"message": count}}``.
"""

from __future__ import annotations

import json
import sys
import threading
from collections import Counter


def configure(url: str) -> None:
    """Django set up on the database of ``url``, migrated, with the shared rows."""
    import django
    from django.conf import settings

    from django_cfg import DatabaseConfig

    settings.configure(
        DATABASES={"default": DatabaseConfig.from_url(url).to_django()},
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"],
        USE_TZ=True,
    )
    django.setup()

    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0)
    Group.objects.bulk_create(Group(name=f"shared {i}") for i in range(8))
    connections.close_all()


def main(url: str, threads: int, per_thread: int) -> dict[str, object]:
    configure(url)

    from django.contrib.auth.models import Group
    from django.db import OperationalError, connections, transaction

    locked = 0
    others: Counter[str] = Counter()
    done = 0
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def read_then_update(n: int) -> None:
        with transaction.atomic():
            group = Group.objects.get(name=f"shared {n % 8}")
            group.name = f"shared {n % 8}"
            group.save(update_fields=["name"])

    def get_or_create(n: int) -> None:
        Group.objects.get_or_create(name=f"created {n % 200}")

    def both(n: int) -> None:
        with transaction.atomic():
            Group.objects.get_or_create(name=f"created {(n * 7) % 200}")
            Group.objects.filter(name=f"shared {n % 8}").update(name=f"shared {n % 8}")

    operations = (read_then_update, get_or_create, both)

    def work(worker: int) -> None:
        nonlocal locked, done
        start.wait()
        mine_locked, mine_done = 0, 0
        mine_others: Counter[str] = Counter()
        try:
            for n in range(per_thread):
                try:
                    operations[(n + worker) % 3](n * threads + worker)
                except OperationalError as error:
                    if "database is locked" in str(error):
                        mine_locked += 1
                    else:
                        mine_others[str(error)] += 1
                except Exception as error:  # counted, reported, and fails the test
                    mine_others[f"{type(error).__name__}: {error}"] += 1
                mine_done += 1
        finally:
            connections.close_all()
            with lock:
                locked += mine_locked
                done += mine_done
                others.update(mine_others)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return {"operations": done, "locked": locked, "other_errors": dict(others)}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))
