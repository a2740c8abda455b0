"""Reveal: the signature key in full, after the password (sudo mode), never cached."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from . import reveal, sudo
from .models import ElementInstance
from .pages import page


@never_cache
@sensitive_post_parameters("password")
@require_POST
@staff_member_required
@permission_required("instances.change_elementinstance", raise_exception=True)
def reveal_key(request: HttpRequest, uuid) -> HttpResponse:
    instance = get_object_or_404(ElementInstance.objects.select_related("webhook"), uuid=uuid)
    if not instance.webhook.signature_key:
        messages.info(request, f"“{instance.name}” has no signature key to reveal.")
        return redirect(instance)
    if not sudo.is_confirmed(request):
        context = {"title": "Confirm your password", "instance": instance, "error": ""}
        if "password" not in request.POST:
            return page(request, "instances/confirm_password.html", context)
        try:
            sudo.confirm_password(request, request.POST["password"])
        except sudo.SudoError as error:
            context["error"] = error.message
            return page(request, "instances/confirm_password.html", context, error.status)
    key = reveal.reveal_signature_key(instance=instance, actor=request.user)
    context = {"title": "Signature key", "instance": instance, "key": key}
    return page(request, "instances/reveal_key.html", context)
