"""Django's own ``multiple_database`` test module, run with this package's router (``run.py``)."""
