"""Alert channels are set up in the admin, with **Send a test**; deliveries are a record."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from instances import admin_lists
from instances.alerts import services
from instances.alerts.models import Channel, Delivery
from instances.forwarding.services import PAUSED_KIND
from instances.health.models import Problem
from instances.parameters import mask


class ChannelForm(forms.ModelForm):
    problem_kinds = forms.MultipleChoiceField(
        choices=[*Problem.Kind.choices, (PAUSED_KIND, "Forwarding destination paused")],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every problem.",
    )

    class Meta:
        model = Channel
        fields = ("name", "kind", "target", "problem_kinds", "element", "tag", "enabled")

    def clean(self):
        data = super().clean()
        target = data.get("target", "")
        if data.get("kind") == Channel.Kind.WEBHOOK and not target.startswith(
            ("https://", "http://")
        ):
            self.add_error("target", "A webhook channel needs the URL to POST to.")
        if data.get("kind") == Channel.Kind.EMAIL:
            for address in Channel(target=target).recipients() or [""]:
                try:
                    forms.EmailField().clean(address)
                except forms.ValidationError:
                    self.add_error("target", f"“{address}” is not an e-mail address.")
                    break
        return data


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelForm
    list_display = ("name", "kind", "enabled", "flagged_at", "consecutive_failures")
    list_filter = ("kind", "enabled")
    readonly_fields = ("masked_secret", "consecutive_failures", "flagged_at")
    actions = ("send_test",)

    @admin.display(description="Signing secret (HMAC-SHA256 of “timestamp.body”)")
    def masked_secret(self, obj: Channel) -> str:
        return mask(obj.signing_secret) if obj.pk else "made when saved"

    @admin.action(description="Send a test", permissions=["change"])
    def send_test(self, request, queryset):
        for channel in queryset:
            delivery = services.send_test(channel)
            if delivery.status == Delivery.Status.SENT:
                self.message_user(request, f"Test sent to “{channel}”.", messages.SUCCESS)
            else:
                self.message_user(
                    request, f"Test to “{channel}” failed: {delivery.last_error}", messages.ERROR
                )


@admin.register(Delivery)
class DeliveryAdmin(admin_lists.ReadOnlyAdmin):
    list_display = (
        "created_at",
        "event",
        "channel",
        "incident",
        "status",
        "attempts",
        "last_error",
    )
    list_filter = ("status", "event", "channel")
    list_select_related = ("channel", "incident")
    paginator = admin_lists.EstimatedCountPaginator
    show_full_result_count = False
