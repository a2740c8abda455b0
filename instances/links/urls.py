from __future__ import annotations

from django.urls import path

from instances.links import views

app_name = "links"

urlpatterns = [
    path("instances/<uuid:uuid>/consent-link/", views.send, name="send"),
    path("instances/<uuid:uuid>/consent-link/copy/", views.copy, name="copy"),
    path("instances/<uuid:uuid>/consent-link/revoke/", views.revoke, name="revoke"),
    # The Dropbox account's owner, who has no login here.
    path("connect/done/", views.result, name="result"),
    path("connect/<str:token>/", views.connect, name="connect"),
]
