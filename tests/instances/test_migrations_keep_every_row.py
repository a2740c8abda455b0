"""Moving models between apps (issue 19) changes no table and loses no row.

The database is taken back to the schema `main` had before the move (instances 0012, the
domain apps not yet there), filled through the historical models with a row in every table,
then migrated to today's layout: every row is still there, byte for byte, the schema is the
same, and what named the old app (content types, queued task paths) names the new one.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

BEFORE_THE_MOVE = [
    ("instances", "0012_events_no_separate_instance_index"),
    ("events", None),
    ("jobs", None),
    ("links", None),
]
# The layout right after the move (later migrations add columns, which the check would see).
AFTER_THE_MOVE = [
    ("instances", "0013_models_move_to_their_domain_apps"),
    ("events", "0001_initial"),
    ("jobs", "0001_initial"),
    ("links", "0001_initial"),
]
# Every table the move touched, and the sandbox's, which it must leave alone.
TABLES = [
    "instances_tag",
    "instances_elementinstance",
    "instances_elementinstance_tags",
    "instances_webhooksettings",
    "instances_auditentry",
    "instances_oauthstate",
    "instances_consentlink",
    "instances_eventnotification",
    "instances_eventdailycount",
    "instances_job",
    "instances_jobitem",
    "instances_schedulerun",
    "sandbox_sandboxapp",
    "sandbox_sandboxinstance",
]


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)


def _latest() -> list[tuple[str, str]]:
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


def _rows(table: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)} ORDER BY 1")  # noqa: S608
        return [tuple(map(str, row)) for row in cursor.fetchall()]


def _schema(table: str) -> dict:
    with connection.cursor() as cursor:
        columns = [
            (c.name, c.type_code, c.null_ok)
            for c in connection.introspection.get_table_description(cursor, table)
        ]
        constraints = connection.introspection.get_constraints(cursor, table)
    return {"columns": columns, "constraints": constraints}


def _fill(apps) -> None:
    """One row (at least) in every table, through the models as they were before the move."""
    now = timezone.now()
    User = apps.get_model("auth", "User")
    Tag = apps.get_model("instances", "Tag")
    Instance = apps.get_model("instances", "ElementInstance")
    user = User.objects.create(username="mover", is_staff=True)
    tag = Tag.objects.create(name="movers")
    instance = Instance.objects.create(
        name="Moved Dropbox", oauth_api_key="key", status="active", remote_id=4242, created_by=user
    )
    instance.tags.add(tag)
    apps.get_model("instances", "WebhookSettings").objects.create(instance=instance, enabled=True)
    apps.get_model("instances", "AuditEntry").objects.create(
        instance=instance, actor=user, action="created", outcome="success"
    )
    link = apps.get_model("instances", "ConsentLink").objects.create(
        instance=instance, token_hash="a" * 64, token="", expires_at=now + timedelta(days=7)
    )
    apps.get_model("instances", "OAuthState").objects.create(
        state_hash="b" * 64,
        session_hash="c" * 64,
        instance=instance,
        element_key="dropbox",
        consent_link=link,
    )
    apps.get_model("instances", "EventNotification").objects.create(
        instance=instance, dedup_key="event-1", signature="verified", body="{}", received_at=now
    )
    apps.get_model("instances", "EventDailyCount").objects.create(
        instance=instance, day=now.date(), count=1, last_received_at=now
    )
    Job = apps.get_model("instances", "Job")
    job = Job.objects.create(kind="sync", total=1, created_by=user)
    Job.objects.create(kind="sync", total=1, retry_of=job)
    apps.get_model("instances", "JobItem").objects.create(job=job, instance=instance)
    apps.get_model("instances", "ScheduleRun").objects.create(name="health_check", period_start=now)
    App = apps.get_model("sandbox", "SandboxApp")
    App.objects.create(client_id="moved-app", client_secret="secret", redirect_uris=["http://x/"])
    apps.get_model("sandbox", "SandboxInstance").objects.create(
        name="Moved Dropbox", element_key="dropbox", token="t", configuration={}
    )
    # A task queued before the move, under the module path it had then.
    apps.get_model("django_tasks_database", "DBTaskResult").objects.create(
        id=uuid.uuid4(),
        args_kwargs={"args": [1], "kwargs": {}},
        task_path="instances.tasks.run_job",
        backend_name="default",
        run_after=now,
        exception_class_path="",
        traceback="",
    )


@pytest.mark.django_db(transaction=True)
def test_the_move_keeps_every_row_and_the_schema():
    latest = _latest()
    try:
        _migrate(BEFORE_THE_MOVE)
        applied = MigrationLoader(connection).applied_migrations
        apps = MigrationLoader(connection).project_state(list(applied)).apps
        # Content types as a database of that time has them (made after each migrate).
        for model in ("consentlink", "eventnotification", "job"):
            ContentType.objects.get_or_create(app_label="instances", model=model)
        _fill(apps)
        rows = {table: _rows(table) for table in TABLES}
        schema = {table: _schema(table) for table in TABLES}
        assert all(rows.values()), [table for table, found in rows.items() if not found]
        _migrate(AFTER_THE_MOVE)
        for table in TABLES:
            assert _rows(table) == rows[table], table
            assert _schema(table) == schema[table], table
    finally:
        _migrate(latest)

    from instances.events.models import EventNotification
    from instances.jobs.models import Job, JobItem
    from instances.links.models import ConsentLink
    from instances.models import OAuthState

    assert EventNotification.objects.get().instance.name == "Moved Dropbox"
    assert JobItem.objects.get().job in Job.objects.all()
    assert OAuthState.objects.get().consent_link == ConsentLink.objects.get()
    moved = ContentType.objects.filter(model__in=["consentlink", "eventnotification", "job"])
    assert sorted(moved.values_list("app_label", "model")) == [
        ("events", "eventnotification"),
        ("jobs", "job"),
        ("links", "consentlink"),
    ]
    from django_tasks_db.models import DBTaskResult

    assert DBTaskResult.objects.get().task_path == "instances.jobs.tasks.run_job"
