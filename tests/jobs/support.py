"""What the job tests share: the live-server database mark, and reading messages and audit rows.

The job tests run jobs in-process by the same function the task worker calls
(tests/jobs/test_worker.py runs the real worker); remote calls go over real HTTP to the sandbox,
hence `live`, a transactional database the live server can see.
"""

from __future__ import annotations

import pytest

from instances.models import AuditEntry, ElementInstance

live = pytest.mark.django_db(transaction=True)
Action = AuditEntry.Action
ACTIVE = ElementInstance.Status.ACTIVE


def shown(response) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in response.context["messages"]]


def audit_count(instances, action: str) -> dict[int, int]:
    counts = dict.fromkeys((i.pk for i in instances), 0)
    for pk in AuditEntry.objects.filter(action=action).values_list("instance_id", flat=True):
        if pk in counts:
            counts[pk] += 1
    return counts
