"""``settings.py`` plus one ForeignKey across databases, for Django's admin and delete suites.

``crossing_notes.Note.person`` (on ``crossing``) points at ``crossing_people.Person`` (on
``default``), so ``django_cfg.patches`` installs everything it has for relations across
databases: the deletion collector, the admin's ``NestedObjects`` and ``ChangeList``. Django's
``admin_changelist``, ``admin_views``, ``admin_utils``, ``delete``, ``delete_regress`` and
``prefetch_related`` tests then run on their own models, which all live on ``default``, through
the package's classes (``scripts/django_suite.sh``). No Django test touches the two apps, so no
test needs the ``crossing`` database.
"""

from django_cfg import DatabaseConfig
from tests.django_suite.settings import DjangoSuiteConfig


class CrossingSuiteConfig(DjangoSuiteConfig):
    databases: dict[str, DatabaseConfig] = {
        **DjangoSuiteConfig.model_fields["databases"].default,
        "crossing": DatabaseConfig.from_url("sqlite://", apps=["crossing_notes"]),
    }


globals().update(CrossingSuiteConfig().get_all_settings())

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Added by run.py to the apps runtests.py installs.
SUITE_APPS = ["tests.django_suite.crossing_people", "tests.django_suite.crossing_notes"]
