from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("crm", "0002_contact_phone_company_name")]

    operations = [
        migrations.AddField(
            model_name="contact",
            name="is_active",
            field=models.BooleanField(default=True),
        ),
        migrations.AlterUniqueTogether(name="contact", unique_together={("company", "email")}),
    ]
