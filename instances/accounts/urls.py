from __future__ import annotations

from django.urls import path

from instances.accounts import views

app_name = "accounts"

urlpatterns = [
    path("account/two-factor/", views.two_factor_page, name="two_factor"),
    path("account/two-factor/verify/", views.verify, name="verify"),
    path("account/two-factor/reset/", views.two_factor_reset, name="two_factor_reset"),
    path("instances/<uuid:uuid>/signature-key/", views.reveal_key, name="reveal_key"),
]
