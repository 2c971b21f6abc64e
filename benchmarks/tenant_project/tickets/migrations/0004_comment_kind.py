from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tickets", "0003_ticket_priority")]

    operations = [
        migrations.AddField(
            model_name="comment",
            name="kind",
            field=models.CharField(default="note", max_length=10),
            preserve_default=False,
        ),
    ]
