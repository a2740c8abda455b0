"""What every dashboard views module shares: the admin's look and the instance permissions."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from uuid import UUID

from django.contrib import admin, messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse


def page(request: HttpRequest, template: str, context: dict, status: int = 200) -> TemplateResponse:
    """Render inside the Django admin's look (header, breadcrumbs, dark mode)."""
    context = {**admin.site.each_context(request), "is_nav_sidebar_enabled": False, **context}
    return TemplateResponse(request, template, context, status=status)


# Every page that changes an instance, in any package, asks the same permission.
can_add = permission_required("instances.add_elementinstance", raise_exception=True)
can_change = permission_required("instances.change_elementinstance", raise_exception=True)


def post_or_back(message: str) -> Callable:
    """An instance's POST-only action whose address a person may reopen (a reload, the history,
    the address bar): a GET leads back to the instance page with `message`, not a blank 405."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request: HttpRequest, uuid, *args, **kwargs) -> HttpResponse:
            if request.method == "POST":
                return view(request, uuid, *args, **kwargs)
            if request.method not in ("GET", "HEAD"):
                return HttpResponseNotAllowed(["POST"])
            messages.info(request, message)
            return redirect("instances:detail", uuid=uuid)

        return wrapped

    return decorator


def uuids_in(values: list[str], limit: int) -> list[str]:
    """The well-formed uuids among a form's values (at most `limit` read), as strings."""
    valid = []
    for value in values[:limit]:
        try:
            valid.append(str(UUID(value)))
        except ValueError:
            continue
    return valid
