"""The project's user, on the default database: sign-up by e-mail, username optional."""

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager


class UserManager(DjangoUserManager["User"]):
    def create_user(self, username=None, email=None, password=None, **extra_fields):  # type: ignore[no-untyped-def, override]
        return super().create_user(username or email, email, password, **extra_fields)

    def create_superuser(self, username=None, email=None, password=None, **extra_fields):  # type: ignore[no-untyped-def, override]
        return super().create_superuser(username or email, email, password, **extra_fields)


class User(AbstractUser):
    objects = UserManager()  # type: ignore[misc]
