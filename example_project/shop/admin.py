from django.contrib import admin

from .models import Product, ShopOrder

admin.site.register(ShopOrder)


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("name", "sku", "price_cents")
