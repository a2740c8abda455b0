"""What every dashboard views module shares: the admin's look and the instance permissions."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest
from django.template.response import TemplateResponse


def page(request: HttpRequest, template: str, context: dict, status: int = 200) -> TemplateResponse:
    """Render inside the Django admin's look (header, breadcrumbs, dark mode)."""
    context = {**admin.site.each_context(request), "is_nav_sidebar_enabled": False, **context}
    return TemplateResponse(request, template, context, status=status)


# Every page that changes an instance, in any package, asks the same permission.
can_add = permission_required("instances.add_elementinstance", raise_exception=True)
can_change = permission_required("instances.change_elementinstance", raise_exception=True)
