"""The example's tour: rows land on their app's database and relations cross them.

Run after migrate_all:  python demo.py  (again: it finds its rows, and prints the same)
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "api.settings")
django.setup()

from api.config import config  # noqa: E402
from apps.blog.models import Post  # noqa: E402
from apps.shop.models import Product  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connections  # noqa: E402

User = get_user_model()


def where(model, pk):
    """The aliases whose table for ``model`` holds a row with this primary key (raw SQL)."""
    found = []
    for alias in connections:
        table = model._meta.db_table
        with connections[alias].cursor() as cursor:
            if table not in connections[alias].introspection.table_names(cursor):
                continue
            cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE id = %s", [pk])
            if cursor.fetchone()[0]:
                found.append(alias)
    return found


print(f"environment: {config.environment} (debug={config.debug})")
for alias, database in config.databases.items():
    print(f"database {alias!r}: {database}  ->  NAME={settings.DATABASES[alias]['NAME']}")

# get_or_create: a second run finds these rows and prints the same lines.
user, _ = User.objects.get_or_create(username="john", defaults={"email": "john@example.com"})
post, _ = Post.objects.get_or_create(
    title="Hello World", author=user, defaults={"content": "Multi-database setup works!"}
)
product, _ = Product.objects.get_or_create(name="Django-CFG Book", defaults={"price": "29.99"})

print(f"user {user.username!r}: rows in {where(User, user.pk)}")
print(f"post {post.pk} {post.title!r}: rows in {where(Post, post.pk)}")
print(f"product {product.pk} {product.name!r}: rows in {where(Product, product.pk)}")

fresh = Post.objects.get(pk=post.pk)
print(f"post.author (a {fresh._state.db} row pointing into default): {fresh.author.username!r}")
print(f"user.blog_posts.all() (read from blog_db): {user.blog_posts.all()}")
