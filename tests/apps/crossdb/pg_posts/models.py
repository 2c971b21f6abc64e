"""Posts on the second PostgreSQL database, pointing at ``pg_people.Person`` with each on_delete
(tests/apps/crossdb/posts.py)."""

from tests.apps.crossdb.posts import posts_of

Post, Comment, Draft, Invoice, Badge = posts_of(__name__, "pg_people")
