from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("django_cfg_tenants", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="tenant",
            name="replica_urls",
            field=models.JSONField(blank=True, default=list),
        ),
    ]
