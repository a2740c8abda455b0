"""Campaign pages: start one from a selection, follow its funnel, stop it, export its links;
and the owners: set one on an instance, or many from a CSV."""

from __future__ import annotations

import csv
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from instances import forms as instance_forms
from instances import owners, search
from instances.campaigns import services as campaigns
from instances.campaigns.forms import CampaignForm, OwnersCsvForm
from instances.campaigns.models import Campaign, Recipient
from instances.forms import OwnerForm
from instances.lib.pages import can_change, page, post_or_back, uuids_in
from instances.models import ElementInstance
from instances.services import ActionError

ROWS_PER_PAGE = 100


# --- Starting ----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@staff_member_required
@can_change
def new(request: HttpRequest) -> HttpResponse:
    """The campaign form, for the selection it was opened with (the list's bulk bar posts the
    checked rows or its filter; a link may give a filter as `query`)."""
    data = request.POST if request.method == "POST" else request.GET
    selection = _selection(data)
    if selection["count"] == 0:
        messages.error(request, "Select the instances to ask again, or choose all matching.")
        return redirect("instances:index")
    form = CampaignForm(request.POST if data.get("step") == "start" else None)
    if form.is_bound and form.is_valid():
        try:
            campaign = campaigns.start(
                name=form.cleaned_data["name"],
                purpose=form.cleaned_data["purpose"],
                message=form.cleaned_data["message"],
                delivery=form.cleaned_data["delivery"],
                expires_at=form.expires_at(),
                reminder_days=form.cleaned_data["reminders"],
                query=selection["query"],
                instance_ids=selection["ids"],
                actor=request.user,
            )
        except ActionError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, f"Campaign started: making links for {selection['words']}.")
            return redirect(campaign)
    context = {"title": "Start a re-consent campaign", "form": form, "selection": selection}
    return page(request, "campaigns/new.html", context, status=400 if form.errors else 200)


def _selection(data: QueryDict) -> dict:
    if data.get("scope") == "filter":
        query = data.get("query", "")[:2000]
        count = search.count_matching(instance_forms.matching(query))
        words = instance_forms.describe(query)
        about = f"{count.words} instance{'s' if count.count != 1 else ''}"
        return {
            "query": query,
            "ids": None,
            "uuids": [],
            "count": count.count,
            "words": about + (f" matching {', '.join(words)}" if words else ""),
        }
    uuids = uuids_in(data.getlist("instance"), campaigns.MAX_CHECKED)
    ids = list(ElementInstance.objects.filter(uuid__in=uuids).values_list("pk", flat=True))
    return {
        "query": "",
        "ids": ids,
        "uuids": uuids,
        "count": len(ids),
        "words": f"{len(ids)} checked instance{'s' if len(ids) != 1 else ''}",
    }


# --- Following -----------------------------------------------------------------------------------


@require_GET
@staff_member_required
def index(request: HttpRequest) -> HttpResponse:
    rows = Campaign.objects.select_related("created_by").order_by("-created_at", "-id")[:200]
    return page(
        request, "campaigns/index.html", {"title": "Re-consent campaigns", "campaigns": rows}
    )


@require_GET
@staff_member_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign.objects.select_related("job", "created_by"), pk=pk)
    state = request.GET.get("state", "")
    if state not in Recipient.State.values:
        state = ""
    try:
        after = int(request.GET.get("after", "0"))
    except ValueError:
        after = 0
    rows = list(campaigns.rows_in(campaign, state).filter(pk__gt=after)[: ROWS_PER_PAGE + 1])
    more = len(rows) > ROWS_PER_PAGE
    rows = rows[:ROWS_PER_PAGE]
    next_query = ""
    if more:
        next_query = urlencode(
            {k: v for k, v in {"state": state, "after": rows[-1].pk}.items() if v}
        )
    context = {
        "title": f"Campaign: {campaign.name}",
        "campaign": campaign,
        "rows": rows,
        "state": state,
        "states": Recipient.State.choices,
        "next_query": next_query,
        "first_page": not after,
    }
    return page(request, "campaigns/detail.html", context)


@require_POST
@staff_member_required
@can_change
def stop(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    try:
        revoked = campaigns.stop(campaign=campaign, actor=request.user)
    except ActionError as error:
        messages.warning(request, error.message)
    else:
        messages.success(
            request,
            f"Campaign stopped: {revoked} open link{'s' if revoked != 1 else ''} revoked, "
            "nothing more will be sent.",
        )
    return redirect(campaign)


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
@staff_member_required
@can_change
def export(request: HttpRequest, pk: int) -> HttpResponse:
    """The links as CSV (instance, owner, link, expiry), to send through the team's channel."""
    campaign = get_object_or_404(Campaign, pk=pk)
    writer = csv.writer(_Echo())
    rows = (writer.writerow(row) for row in campaigns.export_rows(campaign))
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-links.csv"'
    # The links are credentials: never cached, never sent on as a Referer.
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


# --- Owners --------------------------------------------------------------------------------------


@staff_member_required
@can_change
@post_or_back("Change the owner with the form on this page.")
def owner(request: HttpRequest, uuid) -> HttpResponse:
    instance = get_object_or_404(ElementInstance, uuid=uuid)
    form = OwnerForm(request.POST)
    if not form.is_valid():
        problems = "; ".join(e for errors in form.errors.values() for e in errors)
        messages.error(request, f"The owner was not changed. {problems}")
        return redirect(instance)
    changed = owners.set_owner(
        instance=instance,
        name=form.cleaned_data["owner_name"],
        email=form.cleaned_data["owner_email"],
        actor=request.user,
    )
    messages.success(request, "Owner saved." if changed else "The owner was already that.")
    return redirect(instance)


@require_http_methods(["GET", "POST"])
@staff_member_required
@can_change
def owners_import(request: HttpRequest) -> HttpResponse:
    form = OwnersCsvForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        try:
            result = owners.import_csv(form.cleaned_data["file"].read(), actor=request.user)
        except owners.OwnerError as error:
            form.add_error("file", error.message)
    status = 400 if form.errors else 200
    context = {"title": "Import owners from a CSV", "form": form, "result": result}
    return page(request, "campaigns/owners_import.html", context, status=status)
