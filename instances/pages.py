"""Rendering inside the Django admin's look, shared by every dashboard views module."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse


def page(request: HttpRequest, template: str, context: dict, status: int = 200) -> TemplateResponse:
    """Render inside the Django admin's look (header, breadcrumbs, dark mode)."""
    context = {**admin.site.each_context(request), "is_nav_sidebar_enabled": False, **context}
    return TemplateResponse(request, template, context, status=status)
