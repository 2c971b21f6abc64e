from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tickets", "0002_comment")]

    operations = [
        migrations.AddField(
            model_name="ticket",
            name="priority",
            field=models.SmallIntegerField(default=3),
        ),
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(fields=["status", "priority"], name="tickets_status_priority"),
        ),
    ]
