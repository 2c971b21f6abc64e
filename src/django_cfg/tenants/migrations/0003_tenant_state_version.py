from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("django_cfg_tenants", "0002_tenant_replica_urls")]

    operations = [
        migrations.AddField(
            model_name="tenant",
            name="state",
            field=models.CharField(blank=True, default="", db_default="", max_length=16),
        ),
        migrations.AddField(
            model_name="tenant",
            name="version",
            field=models.PositiveBigIntegerField(default=0, db_default=0),
        ),
    ]
