"""The checkout tests' URLs (the app's DRF endpoints) plus the bench's floor view."""

from _checkout_floor import floor_redeem
from django.urls import path

from tests.checkout.urls import urlpatterns as checkout_urlpatterns

urlpatterns = [*checkout_urlpatterns, path("bench/floor/", floor_redeem)]
