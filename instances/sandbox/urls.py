"""Mounted at /sandbox/ only while CLOUD_ELEMENTS_BASE_URL is unset."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "sandbox"

api = "elements/api-v2/"

urlpatterns = [
    path(f"{api}elements/<str:key>/oauth/url", views.oauth_url, name="oauth_url"),
    path(f"{api}elements/<str:key>/instances", views.element_instances, name="element_instances"),
    path(f"{api}instances", views.instances, name="instances"),
    path(f"{api}instances/<int:instance_id>", views.instance, name="instance"),
    path(
        f"{api}instances/<int:instance_id>/configuration",
        views.configuration,
        name="configuration",
    ),
    path(f"{api}<path:rest>", views.not_found),
    path("identity", views.identity, name="identity"),
    path("dropbox/oauth2/authorize", views.authorize, name="authorize"),
    path("instances/<int:instance_id>/simulate", views.simulate, name="simulate"),
]
