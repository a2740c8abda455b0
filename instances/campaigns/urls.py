from __future__ import annotations

from django.urls import path

from instances.campaigns import views

app_name = "campaigns"

urlpatterns = [
    path("instances/campaigns/", views.index, name="index"),
    path("instances/campaigns/new/", views.new, name="new"),
    path("instances/campaigns/<int:pk>/", views.detail, name="detail"),
    path("instances/campaigns/<int:pk>/stop/", views.stop, name="stop"),
    path("instances/campaigns/<int:pk>/links.csv", views.export, name="export"),
    path("instances/owners/import/", views.owners_import, name="owners_import"),
    path("instances/<uuid:uuid>/owner/", views.owner, name="owner"),
]
