from django.urls import path

from . import views

app_name = "shop"

urlpatterns = [
    path("", views.products, name="products"),
    path("cart/add/<str:sku>/", views.add_to_cart, name="add"),
    path("checkout/", views.checkout_page, name="checkout"),
    path("checkout/place/", views.place_order, name="place"),
    path("orders/<str:number>/", views.confirmation, name="confirmation"),
]
