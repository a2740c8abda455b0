from __future__ import annotations

from django.urls import path

from instances.forwarding import views

app_name = "forwarding"

urlpatterns = [
    path("forwarding/", views.index, name="index"),
    path("forwarding/new/", views.new, name="new"),
    path("forwarding/<int:pk>/", views.detail, name="detail"),
    path("forwarding/<int:pk>/edit/", views.edit, name="edit"),
    path("forwarding/<int:pk>/pause/", views.pause, name="pause"),
    path("forwarding/<int:pk>/resume/", views.resume, name="resume"),
    path("forwarding/<int:pk>/test/", views.test, name="test"),
    path("forwarding/<int:pk>/rotate/", views.rotate, name="rotate"),
    path("forwarding/<int:pk>/secret/", views.reveal, name="reveal"),
    path("forwarding/<int:pk>/replay/", views.start_replay, name="replay"),
    path("forwarding/<int:pk>/delete/", views.delete, name="delete"),
    path("instances/<uuid:uuid>/events/<int:event_id>/resend/", views.resend, name="resend"),
]
