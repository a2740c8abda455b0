"""The edit page of a draft or failed instance: every parameter, saved here, then Retry."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from . import drafts, services
from .forms import DraftForm
from .models import ElementInstance
from .pages import page


def edit_draft(request: HttpRequest, instance: ElementInstance) -> HttpResponse:
    """Called by views.edit (which checks login and permission) for an editable instance."""
    form = DraftForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        try:
            drafts.update_draft(instance=instance, data=form.cleaned_data, actor=request.user)
        except services.ActionError as error:
            messages.error(request, error.message)
            return redirect(instance)
        messages.success(
            request,
            "Saved here; nothing was sent to Cloud Elements. "
            "Choose Retry to create the instance with these values.",
        )
        return redirect(instance)
    status = 400 if request.method == "POST" else 200
    context = {"title": f"Edit {instance.name}", "instance": instance, "form": form}
    return page(request, "instances/edit_draft.html", context, status=status)
