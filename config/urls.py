"""URL configuration: the dashboard, the admin and, in sandbox mode, the Cloud Elements stand-in."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from instances import views
from instances.accounts import views as accounts
from instances.api import token_views
from instances.api import urls as api

admin.site.site_header = "Cloud Elements instances"
admin.site.site_title = "Cloud Elements instances"
admin.site.index_title = "Review"
admin.site.site_url = None

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="instances:index", permanent=False)),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    # Early: Django tries the patterns in order, and the receiver (/webhooks/…) is the busiest
    # address (a tenth of its CPU per delivery went to trying the ones before it).
    path("", include("instances.events.urls")),
    path("instances/", include("instances.urls")),
    # Each domain's pages, at the addresses they always had (docs/architecture.md).
    path("", include("instances.jobs.urls")),
    path("", include("instances.imports.urls")),
    path("", include("instances.health.urls")),
    path("", include("instances.campaigns.urls")),
    path("", include("instances.forwarding.urls")),
    path("", include("instances.links.urls")),
    path("", include("instances.accounts.urls")),
    # The API (JSON only: any other address under /api/ answers a JSON 404).
    path("api/v1/", api.api.urls),
    re_path(r"^api/(?P<rest>.*)$", api.not_found),
    path("account/api-tokens/", token_views.tokens_page, name="api_tokens"),
    path("account/api-tokens/<int:pk>/revoke/", token_views.revoke, name="api_token_revoke"),
    # Before the admin's own URLs: the admin login, in two steps for users with two-factor.
    path("admin/login/", accounts.login),
    # Events and jobs moved from the instances app to their own (docs/architecture.md): their
    # admin pages' old addresses, bookmarked or written down, lead to the new ones.
    re_path(
        r"^admin/instances/eventnotification/(?P<rest>.*)$",
        RedirectView.as_view(url="/admin/events/eventnotification/%(rest)s", query_string=True),
    ),
    re_path(
        r"^admin/instances/job/(?P<rest>.*)$",
        RedirectView.as_view(url="/admin/jobs/job/%(rest)s", query_string=True),
    ),
    path("admin/", admin.site.urls),
]

if settings.CLOUD_ELEMENTS_SANDBOX:
    urlpatterns.append(path("sandbox/", include("instances.sandbox.urls")))
