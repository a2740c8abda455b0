"""The API tokens page: a signed-in user makes tokens (each shown once), sees when and from
where each was last used, and revokes them."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from instances.api import tokens
from instances.api.models import ApiToken
from instances.lib.pages import page


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What will use it, e.g. “onboarding service”.")
    scopes = forms.MultipleChoiceField(
        choices=ApiToken.Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[ApiToken.Scope.READ],
        help_text="Read: list and read instances, links, jobs, events. Write: change them. "
        "A token never does more than your own account may.",
    )
    expires_in_days = forms.IntegerField(
        label="Expires after (days)",
        required=False,
        min_value=1,
        max_value=3650,
        help_text="Leave blank for a token that does not expire (revoke it when done).",
    )


@require_http_methods(["GET", "POST"])
@staff_member_required
def tokens_page(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    made = None
    if request.method == "POST" and form.is_valid():
        days = form.cleaned_data["expires_in_days"]
        try:
            made = tokens.make(
                user=request.user,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                expires_at=timezone.now() + timedelta(days=days) if days else None,
            )
        except tokens.TokenError as error:
            form.add_error(None, error.message)
        else:
            form = TokenForm()
    context = {
        "title": "API tokens",
        "form": form,
        "made": made,
        "tokens": request.user.api_tokens.all()[:200],
    }
    status = 400 if form.errors else 200
    response = page(request, "api/tokens.html", context, status=status)
    # The new token is shown in this answer only (in its body, not its address): never cached.
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@staff_member_required
def revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    try:
        tokens.revoke(token=token)
    except tokens.TokenError as error:
        messages.warning(request, error.message)
    else:
        messages.success(request, f"Revoked {token}: it is refused from now on.")
    return redirect("api_tokens")
