from __future__ import annotations

from django.urls import path

from . import views

app_name = "instances"

urlpatterns = [
    path("", views.index, name="index"),
    path("<uuid:uuid>/", views.detail, name="detail"),
]
