"""Re-encrypt every stored secret with the first of FIELD_ENCRYPTION_KEYS."""

from __future__ import annotations

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from instances.lib.fields import EncryptedTextField, rotate


class Command(BaseCommand):
    help = (
        "Rotate field encryption: put the new key first in FIELD_ENCRYPTION_KEYS, run this, "
        "then drop the old key."
    )

    def handle(self, *args, **options) -> None:
        total = 0
        for model in apps.get_models():
            fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
            if fields:
                total += self._rotate_model(model, fields)
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {total} stored secrets."))

    @staticmethod
    def _rotate_model(model, fields) -> int:
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f.column) for f in [model._meta.pk, *fields])
        # Read the ciphertext as stored, so no plaintext is ever held by this command.
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {columns} FROM {quote(model._meta.db_table)}")  # noqa: S608
            rows = cursor.fetchall()
        changed = 0
        table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
        for row_pk, *tokens in rows:
            for field, token in zip(fields, tokens, strict=True):
                if not token:
                    continue
                column = quote(field.column)
                # Only if the row still holds what was read: a secret changed meanwhile wins.
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(
                        f"UPDATE {table} SET {column} = %s WHERE {pk} = %s AND {column} = %s",  # noqa: S608
                        [rotate(token), row_pk, token],
                    )
                    changed += cursor.rowcount
        return changed
