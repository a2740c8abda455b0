"""Mounted at /sandbox/ only while CLOUD_ELEMENTS_BASE_URL is unset."""

from __future__ import annotations

from django.urls import path

from . import event_views, hub_views, views

app_name = "sandbox"

api = "elements/api-v2/"

urlpatterns = [
    path(f"{api}elements", views.elements, name="elements"),
    path(f"{api}elements/<str:key>", views.element, name="element"),
    path(f"{api}elements/<str:key>/metadata", views.element_metadata, name="element_metadata"),
    path(f"{api}elements/<str:key>/oauth/url", views.oauth_url, name="oauth_url"),
    path(f"{api}elements/<str:key>/instances", views.element_instances, name="element_instances"),
    path(
        f"{api}elements/<str:key>/instances/<int:instance_id>",
        views.element_instance,
        name="element_instance",
    ),
    path(f"{api}instances", views.instances, name="instances"),
    path(f"{api}instances/configuration", views.token_configuration),
    path(f"{api}instances/configuration/<int:entry_id>", views.token_configuration_entry),
    path(f"{api}instances/enabled", views.token_enabled),
    path(f"{api}instances/events", event_views.account_events, name="events"),
    path(f"{api}instances/events/<int:event_id>", event_views.event, name="event"),
    path(f"{api}instances/<int:instance_id>/events", event_views.instance_events),
    path(f"{api}instances/<int:instance_id>/events/<int:event_id>", event_views.event),
    path(f"{api}events/dropbox", event_views.dropbox_webhook, name="dropbox_webhook"),
    path(f"{api}events/dropbox/", event_views.dropbox_webhook),
    path(f"{api}instances/<int:instance_id>/enabled", views.enabled, name="enabled"),
    path(f"{api}instances/<int:instance_id>", views.instance, name="instance"),
    path(
        f"{api}instances/<int:instance_id>/configuration",
        views.configuration,
        name="configuration",
    ),
    path(
        f"{api}instances/<int:instance_id>/configuration/<int:entry_id>",
        views.configuration_entry,
    ),
    path(f"{api}hubs/<str:hub_key>/<path:rest>", hub_views.hub, name="hub"),
    path(f"{api}<path:rest>", views.not_found),
    path("identity", views.identity, name="identity"),
    path("providers/<str:key>/oauth2/authorize", views.authorize, name="authorize"),
    path("instances/<int:instance_id>/simulate", views.simulate, name="simulate"),
]
