from django.db import migrations


class Migration(migrations.Migration):
    """The admin's "Databases" page model: a proxy, so no table is created or changed."""

    dependencies = [("django_cfg", "0001_delete_intents")]

    operations = [
        migrations.CreateModel(
            name="Database",
            fields=[],
            options={
                "verbose_name": "database",
                "proxy": True,
                "default_permissions": ("view",),
                "indexes": [],
                "constraints": [],
            },
            bases=("django_cfg.deleteintent",),
        ),
    ]
