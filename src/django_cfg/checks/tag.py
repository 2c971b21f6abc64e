"""The tag every django_cfg system check is registered under.

``manage.py check --tag django_cfg`` (or ``run_checks(tags=[TAG])``) runs only the package's.
"""

TAG = "django_cfg"
