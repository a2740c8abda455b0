"""Consent links move from the instances app to this one: state only, same table."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import instances.lib.fields


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("instances", "0012_events_no_separate_instance_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The table was made by the instances app's migrations and stays as it is: this app
        # takes over the model in Django's state only (instances/0013 lets it go).
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ConsentLink",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "purpose",
                            models.CharField(
                                choices=[("create", "Create"), ("reauthorize", "Re-authorize")],
                                default="create",
                                max_length=16,
                            ),
                        ),
                        ("token_hash", models.CharField(max_length=64, unique=True)),
                        ("token", instances.lib.fields.EncryptedTextField()),
                        (
                            "note",
                            models.CharField(
                                blank=True,
                                help_text="Who the link is for, for your reference.",
                                max_length=200,
                                verbose_name="for",
                            ),
                        ),
                        (
                            "success_url",
                            models.URLField(
                                blank=True,
                                max_length=500,
                                verbose_name="after consent, send the owner to",
                            ),
                        ),
                        (
                            "error_url",
                            models.URLField(
                                blank=True,
                                max_length=500,
                                verbose_name="after a refusal, send the owner to",
                            ),
                        ),
                        ("expires_at", models.DateTimeField()),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("opened_at", models.DateTimeField(blank=True, null=True)),
                        ("used_at", models.DateTimeField(blank=True, null=True)),
                        ("revoked_at", models.DateTimeField(blank=True, null=True)),
                        ("expiry_recorded_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "created_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "instance",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="consent_links",
                                to="instances.elementinstance",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "instances_consentlink",
                        "ordering": ["-created_at", "-id"],
                        "constraints": [
                            models.UniqueConstraint(
                                condition=models.Q(
                                    ("revoked_at__isnull", True), ("used_at__isnull", True)
                                ),
                                fields=("instance",),
                                name="consent_link_one_open_per_instance",
                            )
                        ],
                    },
                ),
            ],
        ),
    ]
