from __future__ import annotations

from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("", views.two_factor_page, name="two_factor"),
    path("verify/", views.verify, name="verify"),
    path("reset/", views.two_factor_reset, name="two_factor_reset"),
]
