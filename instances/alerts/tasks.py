"""The alert task (django-tasks): thin, as every task here."""

from __future__ import annotations

from django_tasks import task

from instances.alerts import services


@task()
def send_alert(delivery_id: int) -> str:
    return services.send(delivery_id).status
