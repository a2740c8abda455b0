"""Sign-in in two steps (password, then a code), the two-factor enrolment page, and revealing
a secret after the password is asked again (sudo mode)."""

from __future__ import annotations

import time

from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth import REDIRECT_FIELD_NAME, get_user_model
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from instances.accounts import reveal, sudo
from instances.lib.pages import can_change, page, post_or_back
from instances.models import ElementInstance

from . import two_factor
from .forms import CodeForm, PasswordConfirmForm

# The password step leaves only this in the session: no user is signed in until the code.
PENDING = "accounts_pending_sign_in"
PENDING_SECONDS = 5 * 60


class TwoStepLoginView(LoginView):
    """The admin's login page; a user with an authenticator is asked for a code next."""

    template_name = "admin/login.html"
    authentication_form = AdminAuthenticationForm

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if admin.site.has_permission(request):
            return redirect("admin:index")
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs) -> dict:
        context = {
            **super().get_context_data(**kwargs),
            **admin.site.each_context(self.request),
            "title": "Log in",
            "subtitle": None,
            "app_path": self.request.get_full_path(),
            "username": self.request.user.get_username(),
        }
        if (
            REDIRECT_FIELD_NAME not in self.request.GET
            and REDIRECT_FIELD_NAME not in self.request.POST
        ):
            context[REDIRECT_FIELD_NAME] = reverse("admin:index")
        return context

    def form_valid(self, form: AdminAuthenticationForm) -> HttpResponse:
        user = form.get_user()
        if not two_factor.has_authenticator(user):
            return super().form_valid(form)
        # Whoever this browser was signed in as is signed out, and the session gets a new key.
        auth_logout(self.request)
        self.request.session[PENDING] = {
            "user": user.pk,
            "backend": user.backend,
            "next": self.get_success_url(),
            "at": time.time(),
        }
        return redirect("accounts:verify")


login = TwoStepLoginView.as_view()


@never_cache
@sensitive_post_parameters("code")
def verify(request: HttpRequest) -> HttpResponse:
    """Second step of signing in: a code from the authenticator, or a recovery code."""
    user, next_url = _owing_a_code(request)
    if user is None:
        messages.info(request, "Log in with your password first.")
        return redirect("admin:login")
    form = CodeForm(request.POST or None)
    status = 200
    if form.is_valid():
        check = two_factor.verify_code(user=user, code=form.cleaned_data["code"])
        if check.device is not None:
            if request.session.pop(PENDING, None):
                auth_login(request, user, backend=user.backend)
            otp_login(request, check.device)
            return redirect(next_url)
        form.add_error("code", check.error)
        status = 429 if check.throttled else 200
    context = {"title": "Two-factor authentication", "form": form, "next": next_url}
    return page(request, "accounts/verify.html", context, status=status)


@never_cache
@staff_member_required
@sensitive_post_parameters("code")
def two_factor_page(request: HttpRequest) -> HttpResponse:
    """Show the user's two-factor state, or enrol an authenticator app."""
    user, next_url = request.user, _next(request, default=reverse("instances:index"))
    if two_factor.has_authenticator(user):
        if not user.is_verified():
            next_query = urlencode({"next": request.get_full_path()})
            return redirect(f"{reverse('accounts:verify')}?{next_query}")
        context = {
            "title": "Two-factor authentication",
            "remaining": two_factor.remaining_recovery_codes(user),
            "form": PasswordConfirmForm(user=user),
        }
        return page(request, "accounts/two_factor.html", context)
    device = two_factor.start_enrolment(user=user)
    form = CodeForm(request.POST or None)
    if form.is_valid():
        check, codes = two_factor.confirm_enrolment(
            user=user, device=device, code=form.cleaned_data["code"]
        )
        if check.device is not None:
            otp_login(request, check.device)
            context = {"title": "Your recovery codes", "codes": codes, "next": next_url}
            return page(request, "accounts/recovery_codes.html", context)
        form.add_error("code", check.error)
    context = {
        "title": "Set up two-factor authentication",
        "form": form,
        "qr_code": two_factor.qr_code_data_uri(device),
        "secret": two_factor.secret_text(device),
        "next": next_url,
    }
    return page(request, "accounts/enrol.html", context)


@never_cache
@staff_member_required
@require_POST
@sensitive_post_parameters("password")
def two_factor_reset(request: HttpRequest) -> HttpResponse:
    """Turn two-factor authentication off (to enrol again), after the password."""
    user = request.user
    if two_factor.has_authenticator(user) and not user.is_verified():
        return redirect("accounts:verify")
    form = PasswordConfirmForm(request.POST, user=user)
    if not form.is_valid():
        context = {
            "title": "Two-factor authentication",
            "remaining": two_factor.remaining_recovery_codes(user),
            "form": form,
        }
        return page(request, "accounts/two_factor.html", context, status=400)
    two_factor.remove_authenticators(user=user)
    messages.success(request, "Two-factor authentication is off. Set up an authenticator again.")
    return redirect("accounts:two_factor")


def _owing_a_code(request: HttpRequest):
    """The user who has given a password but not yet a code, and where they go next."""
    user = request.user
    if user.is_authenticated:
        if user.is_verified() or not two_factor.has_authenticator(user):
            return None, ""
        return user, _next(request, default=reverse("instances:index"))
    pending = request.session.get(PENDING)
    if not pending or time.time() - pending["at"] > PENDING_SECONDS:
        request.session.pop(PENDING, None)
        return None, ""
    user = get_user_model().objects.filter(pk=pending["user"], is_active=True).first()
    if user is None:
        return None, ""
    user.backend = pending["backend"]
    return user, pending["next"]


def _next(request: HttpRequest, *, default: str) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


@never_cache
@sensitive_post_parameters("password")
@staff_member_required
@can_change
@post_or_back("The signature key is shown only right after you ask: choose “Reveal” again.")
def reveal_key(request: HttpRequest, uuid) -> HttpResponse:
    instance = get_object_or_404(ElementInstance.objects.select_related("webhook"), uuid=uuid)
    if not instance.webhook.signature_key:
        messages.info(request, f"“{instance.name}” has no signature key to reveal.")
        return redirect(instance)
    asked = sudo.password_page(
        request,
        secret=f"the signature key of “{instance.name}”",
        action=reverse("accounts:reveal_key", args=[instance.uuid]),
        back=(instance.name, instance.get_absolute_url()),
        crumbs=[],
    )
    if asked:
        return asked
    key = reveal.reveal_signature_key(instance=instance, actor=request.user)
    context = {"title": "Signature key", "instance": instance, "key": key}
    return page(request, "accounts/reveal_key.html", context)
