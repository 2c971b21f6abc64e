from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("crm", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="contact",
            name="phone",
            field=models.CharField(blank=True, max_length=30),
        ),
        migrations.AddIndex(
            model_name="company",
            index=models.Index(fields=["name"], name="crm_company_name"),
        ),
    ]
