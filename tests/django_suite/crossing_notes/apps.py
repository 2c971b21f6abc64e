from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured


class CrossingNotesConfig(AppConfig):
    name = "tests.django_suite.crossing_notes"
    label = "crossing_notes"

    def ready(self) -> None:
        """Stop the run if the patches it is meant to exercise are not installed.

        django_cfg is installed before this app (run.py), so its ready() has run.
        """
        from django_cfg import patches

        wanted = {
            "django.db.models.base.Collector",
            "django.contrib.admin.utils.NestedObjects",
            "django.contrib.admin.views.main.ChangeList.apply_select_related",
        }
        missing = wanted - patches.installed().keys()
        if missing:
            raise ImproperlyConfigured(
                f"tests.django_suite.crossing_settings: {sorted(missing)} not patched; the "
                "ForeignKey crossing_notes.Note.person (crossing) -> crossing_people.Person "
                "(default) should have made django_cfg install them."
            )
