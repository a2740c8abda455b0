"""Dashboard pages. Each view loads, validates, calls a service and redirects or renders."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .models import ElementInstance

PAGE_SIZE = 50


def page(request: HttpRequest, template: str, context: dict) -> TemplateResponse:
    """Render inside the Django admin's look (header, breadcrumbs, dark mode)."""
    return TemplateResponse(request, template, {**admin.site.each_context(request), **context})


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return JsonResponse({"status": "error", "database": "unavailable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


@login_required
def index(request: HttpRequest) -> HttpResponse:
    instances = (
        ElementInstance.objects.exclude(status=ElementInstance.Status.DELETED)
        .select_related("webhook", "created_by")
        .prefetch_related("tags")
    )
    paginator = Paginator(instances, PAGE_SIZE)
    page_obj = paginator.get_page(request.GET.get("page"))
    return page(request, "instances/index.html", {"title": "Instances", "page_obj": page_obj})


@login_required
def detail(request: HttpRequest, uuid) -> HttpResponse:
    instance = get_object_or_404(
        ElementInstance.objects.select_related("webhook", "created_by").prefetch_related("tags"),
        uuid=uuid,
    )
    audit = instance.audit_entries.select_related("actor")[:50]
    context = {"title": instance.name, "instance": instance, "audit": audit}
    return page(request, "instances/detail.html", context)
