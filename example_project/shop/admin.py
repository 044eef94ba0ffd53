from django.contrib import admin

from .models import ShopOrder

admin.site.register(ShopOrder)
