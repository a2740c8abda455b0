"""Received events move from the instances app to this one: state only, same tables."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("instances", "0012_events_no_separate_instance_index"),
    ]

    operations = [
        # The table was made by the instances app's migrations and stays as it is: this app
        # takes over the model in Django's state only (instances/0013 lets it go).
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="EventDailyCount",
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
                        ("day", models.DateField()),
                        ("count", models.PositiveIntegerField(default=0)),
                        ("last_received_at", models.DateTimeField()),
                        (
                            "instance",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="daily_event_counts",
                                to="instances.elementinstance",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "instances_eventdailycount",
                        "ordering": ["instance", "-day"],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("instance", "day"), name="event_daily_count_unique"
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="EventNotification",
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
                        ("dedup_key", models.CharField(max_length=200)),
                        (
                            "remote_event_id",
                            models.CharField(blank=True, max_length=200, verbose_name="event id"),
                        ),
                        (
                            "webhook_id",
                            models.CharField(
                                blank=True, max_length=200, verbose_name="Elements-Webhook-Id"
                            ),
                        ),
                        (
                            "signature",
                            models.CharField(
                                choices=[
                                    ("verified", "Verified"),
                                    ("verified_previous", "Verified (previous key)"),
                                    ("unsigned", "Unsigned"),
                                ],
                                max_length=20,
                            ),
                        ),
                        ("event_type", models.CharField(blank=True, max_length=32)),
                        ("object_type", models.CharField(blank=True, max_length=100)),
                        ("object_id", models.CharField(blank=True, max_length=500)),
                        ("events", models.JSONField(default=list)),
                        ("body", models.TextField()),
                        ("received_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "instance",
                            models.ForeignKey(
                                db_index=False,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="events",
                                to="instances.elementinstance",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "instances_eventnotification",
                        "ordering": ["-received_at", "-id"],
                        "indexes": [
                            models.Index(fields=["-received_at", "-id"], name="event_time_id"),
                            models.Index(
                                fields=["instance", "-received_at", "-id"],
                                name="event_instance_time",
                            ),
                        ],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("instance", "dedup_key"), name="event_dedup_per_instance"
                            )
                        ],
                    },
                ),
            ],
        ),
    ]
