"""django-cfg 0.1 import paths, kept working (tests/architecture/test_old_import_paths.py).

The code lives in the layers docs/architecture.md draws: settings/, state/, runtime/,
routing/, replicas/, relations/, admin/ and checks/.
"""
