"""Imported by test_startup_imports.py to see after_import() run after its code."""

VALUE = 42
