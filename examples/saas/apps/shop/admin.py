"""Products and orders (shop_db); an order's customer is a user (default)."""

from django.contrib import admin

from .models import Order, Product


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "price"]
    search_fields = ["name"]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["product", "customer", "quantity"]  # customer: a <select> of users
    list_filter = ["customer"]
