from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("billing", "0003_payment")]

    operations = [
        migrations.AlterField(
            model_name="invoice",
            name="total",
            field=models.DecimalField(decimal_places=2, default=0, max_digits=14),
        ),
    ]
