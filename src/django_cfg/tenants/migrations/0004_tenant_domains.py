from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("django_cfg_tenants", "0003_tenant_state_version")]

    operations = [
        migrations.AddField(
            model_name="tenant",
            name="domains",
            field=models.JSONField(blank=True, default=list, db_default=[]),
        ),
    ]
