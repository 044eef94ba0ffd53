from django.contrib.auth import views as auth_views
from django.urls import path

from . import accounts, views

app_name = "shop"

urlpatterns = [
    path("", views.products, name="products"),
    path("cart/add/<str:sku>/", views.add_to_cart, name="add"),
    path("checkout/", views.checkout_page, name="checkout"),
    path("checkout/place/", views.place_order, name="place"),
    path("orders/", accounts.my_orders, name="orders"),
    path("orders/<str:number>/", views.confirmation, name="confirmation"),
    path("account/signup/", accounts.signup, name="signup"),
    path("account/signin/", accounts.SignInView.as_view(), name="login"),
    path("account/signout/", auth_views.LogoutView.as_view(), name="logout"),
]
