from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="invoice",
            name="status",
            field=models.CharField(
                choices=[("draft", "Draft"), ("sent", "Sent"), ("paid", "Paid")],
                default="draft",
                max_length=10,
            ),
        ),
        migrations.AddIndex(
            model_name="invoice",
            index=models.Index(fields=["status", "issued"], name="billing_inv_status_issued"),
        ),
    ]
