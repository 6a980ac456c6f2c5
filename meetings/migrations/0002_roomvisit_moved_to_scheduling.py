"""The room's visits belong to scheduling now (its migration 0008 took over the table)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("meetings", "0001_initial"),
        ("scheduling", "0008_roomvisit_attendance_match_reason"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="RoomVisit")],
            database_operations=[],
        ),
    ]
