"""django-cfg 0.1 import paths, kept working.

The code lives in settings/, routing/, replicas/, relations/ and admin/.
"""
