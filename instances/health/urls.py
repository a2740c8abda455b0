from __future__ import annotations

from django.urls import path

from instances.health import views

app_name = "health"

urlpatterns = [
    path("instances/attention/", views.attention, name="attention"),
    path("instances/problems/<int:pk>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("instances/incidents/", views.incidents, name="incidents"),
    path("instances/<uuid:uuid>/quiet-period/", views.quiet_period, name="quiet_period"),
    path("instances/incidents/<int:pk>/", views.incident, name="incident"),
]
