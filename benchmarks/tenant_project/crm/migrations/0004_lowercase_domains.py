from django.db import migrations, models


def lowercase_domains(apps, schema_editor):
    Company = apps.get_model("crm", "Company")
    for company in Company.objects.using(schema_editor.connection.alias).exclude(domain=""):
        company.domain = company.domain.lower()
        company.save(update_fields=["domain"])


class Migration(migrations.Migration):
    dependencies = [("crm", "0003_contact_is_active_unique")]

    operations = [
        migrations.AlterField(
            model_name="company",
            name="domain",
            field=models.CharField(blank=True, max_length=253),
        ),
        migrations.RunPython(lowercase_domains, migrations.RunPython.noop),
    ]
