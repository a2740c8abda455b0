"""Drop the events table's own index on instance_id (the composite indexes lead with it).

An AlterField would drop and re-create the foreign key too, validating it against every event
under an exclusive lock: the receiver would wait for a scan of the whole table. Only the index
goes, concurrently on PostgreSQL; the model's state is altered alone.
"""

import django.db.models.deletion
from django.db import migrations, models

TABLE = "instances_eventnotification"


def _instance_id_indexes(schema_editor) -> list[str]:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, TABLE)
    return [
        name
        for name, info in constraints.items()
        if info["index"] and info["columns"] == ["instance_id"] and not info["unique"]
    ]


def drop_index(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for name in _instance_id_indexes(schema_editor):
        schema_editor.execute(
            f"DROP INDEX {concurrently}IF EXISTS {schema_editor.quote_name(name)}"
        )


def create_index(apps, schema_editor):
    if _instance_id_indexes(schema_editor):
        return
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(
        f"CREATE INDEX {concurrently}instances_eventnotification_instance_id_idx "
        f"ON {TABLE} (instance_id)"
    )


class Migration(migrations.Migration):
    # DROP INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("instances", "0011_job_kinds_disable_enable"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="eventnotification",
                    name="instance",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="instances.elementinstance",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop_index, create_index)],
        ),
    ]
