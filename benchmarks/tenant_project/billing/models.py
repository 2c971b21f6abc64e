from django.db import models


class Invoice(models.Model):
    company = models.ForeignKey("crm.Company", on_delete=models.PROTECT)
    number = models.CharField(max_length=30, unique=True)
    issued = models.DateField()
    total = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    status = models.CharField(
        max_length=10,
        choices=[("draft", "Draft"), ("sent", "Sent"), ("paid", "Paid")],
        default="draft",
    )

    class Meta:
        indexes = [models.Index(fields=["status", "issued"], name="billing_inv_status_issued")]


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    description = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField(default=1)
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)


class Payment(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="payments")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    paid_at = models.DateTimeField()
