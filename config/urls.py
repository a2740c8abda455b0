"""URL configuration: the dashboard, the admin and, in sandbox mode, the Cloud Elements stand-in."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from instances import link_views, views, webhooks
from instances.accounts import views as accounts

admin.site.site_header = "Cloud Elements instances"
admin.site.site_title = "Cloud Elements instances"
admin.site.index_title = "Review"
admin.site.site_url = None

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="instances:index", permanent=False)),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("instances/", include("instances.urls")),
    path("webhooks/<uuid:uuid>/", webhooks.receive, name="webhook"),
    # Consent links: the Dropbox account's owner, who has no login here.
    path("connect/done/", link_views.result, name="connect_result"),
    path("connect/<str:token>/", link_views.connect, name="connect"),
    path("account/two-factor/", include("instances.accounts.urls")),
    # Before the admin's own URLs: the admin login, in two steps for users with two-factor.
    path("admin/login/", accounts.login),
    path("admin/", admin.site.urls),
]

if settings.CLOUD_ELEMENTS_SANDBOX:
    urlpatterns.append(path("sandbox/", include("instances.sandbox.urls")))
