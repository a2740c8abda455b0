from __future__ import annotations

from django.urls import path

from instances.imports import views

app_name = "imports"

urlpatterns = [
    path("instances/import/", views.start, name="start"),
    path("instances/new-at-cloud-elements/", views.new_at_cloud_elements, name="new"),
    path(
        "instances/new-at-cloud-elements/<int:pk>/import/",
        views.import_discovered,
        name="import_discovered",
    ),
    path("instances/jobs/<int:job_id>/resume/", views.resume, name="resume"),
    path("instances/<uuid:uuid>/secrets/", views.secrets, name="secrets"),
    path("instances/<uuid:uuid>/send-ours/", views.send_ours, name="send_ours"),
    path("instances/<uuid:uuid>/receive-events-here/", views.receive_here, name="receive_here"),
]
