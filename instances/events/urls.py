from __future__ import annotations

from django.urls import path

from instances.events import receiver, views

app_name = "events"

urlpatterns = [
    # Cloud Elements' deliveries: the only view without a login or a CSRF token.
    path("webhooks/<uuid:uuid>/", receiver.receive, name="receive"),
    path("instances/<uuid:uuid>/events/<int:event_id>/", views.detail, name="detail"),
    path("instances/<uuid:uuid>/remote-events/", views.remote, name="remote"),
]
