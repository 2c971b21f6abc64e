"""Posts on the second MariaDB database, pointing at ``maria_people.Person`` with each on_delete
(tests/apps/crossdb/posts.py)."""

from tests.apps.crossdb.posts import posts_of

Post, Comment, Draft, Invoice, Badge = posts_of(__name__, "maria_people")
