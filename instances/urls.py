from __future__ import annotations

from django.urls import path

from . import enablement_views, event_views, job_views, link_views, reveal_views, views

app_name = "instances"

urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.new, name="new"),
    path("sync/", views.sync_all, name="sync_all"),
    path("bulk/", job_views.bulk, name="bulk"),
    path("jobs/<int:job_id>/", job_views.job, name="job"),
    path("jobs/<int:job_id>.json", job_views.job_json, name="job_json"),
    path("jobs/<int:job_id>/cancel/", job_views.cancel, name="job_cancel"),
    path("jobs/<int:job_id>/retry/", job_views.retry, name="job_retry"),
    path("oauth/callback/", views.oauth_callback, name="oauth_callback"),
    path("<uuid:uuid>/", views.detail, name="detail"),
    path("<uuid:uuid>/retry/", views.retry, name="retry"),
    path("<uuid:uuid>/reconcile/", views.reconcile, name="reconcile"),
    path("<uuid:uuid>/reauthorize/", views.reauthorize, name="reauthorize"),
    path("<uuid:uuid>/events/", views.events, name="events"),
    path("<uuid:uuid>/enabled/", enablement_views.set_enabled, name="set_enabled"),
    path("<uuid:uuid>/remote-events/", enablement_views.remote_events, name="remote_events"),
    path("<uuid:uuid>/events/<int:event_id>/", event_views.event, name="event"),
    path("<uuid:uuid>/edit/", views.edit, name="edit"),
    path("<uuid:uuid>/signature-key/", reveal_views.reveal_key, name="reveal_key"),
    path("<uuid:uuid>/delete/", views.delete, name="delete"),
    path("<uuid:uuid>/consent-link/", link_views.send_link, name="send_link"),
    path("<uuid:uuid>/consent-link/copy/", link_views.copy_link, name="copy_link"),
    path("<uuid:uuid>/consent-link/revoke/", link_views.revoke_link, name="revoke_link"),
    path("<uuid:uuid>/sync/", views.sync, name="sync"),
]
