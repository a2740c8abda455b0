from __future__ import annotations

from django.urls import path

from instances import views
from instances.elements import views as element_views

app_name = "instances"

urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.new, name="new"),
    path("new/refresh/", element_views.refresh, name="refresh_elements"),
    path("setup/", views.setup, name="setup"),
    path("sync/", views.sync_all, name="sync_all"),
    path("oauth/callback/", views.oauth_callback, name="oauth_callback"),
    path("<uuid:uuid>/", views.detail, name="detail"),
    path("<uuid:uuid>/retry/", views.retry, name="retry"),
    path("<uuid:uuid>/reconcile/", views.reconcile, name="reconcile"),
    path("<uuid:uuid>/reauthorize/", views.reauthorize, name="reauthorize"),
    path("<uuid:uuid>/events/", views.events, name="events"),
    path("<uuid:uuid>/enabled/", views.set_enabled, name="set_enabled"),
    path("<uuid:uuid>/edit/", views.edit, name="edit"),
    path("<uuid:uuid>/delete/", views.delete, name="delete"),
    path("<uuid:uuid>/sync/", views.sync, name="sync"),
]
