from __future__ import annotations

from django.urls import path

from instances.jobs import views

app_name = "jobs"

urlpatterns = [
    path("instances/bulk/", views.bulk, name="bulk"),
    path("instances/jobs/<int:job_id>/", views.detail, name="detail"),
    path("instances/jobs/<int:job_id>.json", views.detail_json, name="detail_json"),
    path("instances/jobs/<int:job_id>/cancel/", views.cancel, name="cancel"),
    path("instances/jobs/<int:job_id>/retry/", views.retry, name="retry"),
]
