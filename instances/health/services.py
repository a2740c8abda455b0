"""Acknowledging a problem, and what the attention page shows (read from the kept counts)."""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.utils import timezone

from instances import services as core
from instances.health import sweep
from instances.health.models import Problem, ProblemCount, SweepMark
from instances.models import AuditEntry

# Elements and tags listed per problem on the attention page (the biggest first).
TOP = 10


def acknowledge(*, problem: Problem, actor, reason: str, until: date | None) -> Problem:
    """Out of the counts (until `until`, or while it lasts), still shown on the instance."""
    with transaction.atomic():
        problem.acknowledged_at = timezone.now()
        problem.acknowledged_by = actor if getattr(actor, "is_authenticated", False) else None
        problem.acknowledged_reason = reason
        problem.acknowledged_until = until
        problem.save(
            update_fields=[
                "acknowledged_at",
                "acknowledged_by",
                "acknowledged_reason",
                "acknowledged_until",
            ]
        )
        core.record(
            problem.instance,
            AuditEntry.Action.UPDATED,
            actor=actor,
            detail=f"Acknowledged “{problem.get_kind_display()}”"
            + (f" until {until:%Y-%m-%d}" if until else "")
            + f": {reason}",
        )
    sweep.recount()
    return problem


def attention_summary() -> dict:
    counts = list(ProblemCount.objects.all())
    labels = dict(Problem.Kind.choices)
    kinds = []
    for kind, label in labels.items():
        total = next((c.count for c in counts if c.kind == kind and c.dimension == "all"), 0)
        if not total:
            continue
        per = {
            dimension: [
                {"value": c.value, "count": c.count}
                for c in counts
                if c.kind == kind and c.dimension == dimension
            ][:TOP]
            for dimension in ("element", "tag")
        }
        kinds.append(
            {
                "kind": kind,
                "label": label,
                "count": total,
                "elements": per["element"],
                "tags": per["tag"],
            }
        )
    mark = SweepMark.objects.order_by("pk").first()
    return {"kinds": kinds, "swept_at": mark.finished_at if mark else None}


def set_quiet_period(*, instance, hours: int | None, actor) -> None:
    """A quiet period of its own for the instance (None: the SILENT_AFTER_HOURS default)."""
    webhook = instance.webhook
    webhook.quiet_hours = hours
    webhook.save(update_fields=["quiet_hours"])
    period = f"{hours} hours" if hours else "the default"
    core.record(instance, AuditEntry.Action.UPDATED, actor=actor, detail=f"Silent after {period}.")
