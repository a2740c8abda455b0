"""The attention page and acknowledging a problem."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from instances import search
from instances.health import services
from instances.health.forms import AcknowledgeForm, QuietPeriodForm
from instances.health.models import Incident, Problem
from instances.lib import keyset
from instances.lib.pages import can_change, page
from instances.models import ElementInstance
from instances.search import NEEDS_REAUTHORIZATION


@require_GET
@staff_member_required
def attention(request):
    """Counts by problem, then by element and tag, each a link to the filtered list: read from
    the counts the sweep keeps (three small queries at any size)."""
    summary = services.attention_summary()
    for group in summary["kinds"]:
        group["url"] = _list_url(problem=group["kind"])
        for row in group["elements"]:
            row["url"] = _list_url(problem=group["kind"], element=row["value"])
        for row in group["tags"]:
            row["url"] = _list_url(problem=group["kind"], tag=row["value"])
    reauthorize = search.count_matching(ElementInstance.objects.filter(NEEDS_REAUTHORIZATION))
    context = {"title": "Attention", "needs_reauthorization": reauthorize, **summary}
    return page(request, "health/attention.html", context)


def _list_url(**query) -> str:
    return reverse("instances:index") + "?" + urlencode(query)


@require_POST
@staff_member_required
@can_change
def acknowledge(request, pk: int):
    problem = get_object_or_404(Problem.objects.select_related("instance"), pk=pk)
    form = AcknowledgeForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(e for field in form.errors.values() for e in field)
        messages.error(request, f"Not acknowledged: {errors}")
        return redirect(problem.instance)
    services.acknowledge(problem=problem, actor=request.user, **form.cleaned_data)
    until = form.cleaned_data["until"]
    messages.success(
        request,
        f"Acknowledged: “{problem.get_kind_display()}” is out of the counts"
        + (f" until {until:%Y-%m-%d}." if until else "."),
    )
    return redirect(problem.instance)


INCIDENTS_PAGE = 50
MEMBERS_SHOWN = 100


@require_GET
@staff_member_required
def incidents(request):
    rows = keyset.paginate(
        Incident.objects.all(), request.GET, size=INCIDENTS_PAGE, time_field="opened_at"
    )
    return page(request, "health/incidents.html", {"title": "Incidents", "page_obj": rows})


@require_GET
@staff_member_required
def incident(request, pk: int):
    found = get_object_or_404(Incident, pk=pk)
    members = found.problems.select_related("instance").order_by("resolved_at", "-since")[
        :MEMBERS_SHOWN
    ]
    context = {
        "title": found.title,
        "incident": found,
        "members": members,
        "deliveries": found.deliveries.select_related("channel")[:100],
    }
    return page(request, "health/incident.html", context)


@require_POST
@staff_member_required
@can_change
def quiet_period(request, uuid):
    """How long this instance may go without a delivery before it counts as silent."""
    instance = get_object_or_404(ElementInstance.objects.select_related("webhook"), uuid=uuid)
    form = QuietPeriodForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Not changed: " + "; ".join(form.errors["hours"]))
        return redirect(instance)
    services.set_quiet_period(
        instance=instance, hours=form.cleaned_data["hours"], actor=request.user
    )
    hours = instance.webhook.quiet_hours
    messages.success(
        request,
        f"Silent after {hours} hours without a delivery."
        if hours
        else "Silent after the default period without a delivery.",
    )
    return redirect(instance)
