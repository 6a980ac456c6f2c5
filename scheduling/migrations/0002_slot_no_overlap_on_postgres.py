"""On PostgreSQL the database itself refuses overlapping slots of one teacher.

SQLite has no exclusion constraints; there the service's check under the
teacher-row lock (and SQLite's single writer) is the guard.
"""

from django.db import migrations

CREATE = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE scheduling_availabilityslot
  ADD CONSTRAINT slot_no_overlap
  EXCLUDE USING gist (teacher_id WITH =, tstzrange("start", "end", '[)') WITH &&);
"""
DROP = "ALTER TABLE scheduling_availabilityslot DROP CONSTRAINT IF EXISTS slot_no_overlap;"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
