"""The same pair of apps for each engine: people on one database, their posts on another.

Each ``*_posts`` app's models point at the ``*_people`` app's Person with every ``on_delete``
mode, so one set of tests runs on SQLite, PostgreSQL and MariaDB alike. The posts' models are
written once (``posts.py``); each ``*_posts/models.py`` defines them in its own app.
"""
