"""Attendance moves to scheduling (issue 12): the booking keeps the facts settlement needs,
so the sweep can settle a session without the room. The room's visits table is taken over
as it is (no copy: renamed), and the booking gains who was absent; a pending match request
says why it still waits."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0007_booking_one_per_slot_includes_completed"),
        ("meetings", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="RoomVisit",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("joined_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("left_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "booking",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="room_visits",
                                to="scheduling.booking",
                            ),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="room_visits",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["joined_at", "id"],
                        "indexes": [
                            models.Index(
                                condition=models.Q(("left_at__isnull", True)),
                                fields=["booking", "user"],
                                name="visit_open",
                            )
                        ],
                        "db_table": "meetings_roomvisit",
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name="roomvisit", table=None),
        migrations.AddField(
            model_name="booking",
            name="absent",
            field=models.CharField(
                blank=True,
                choices=[
                    ("", "Both came"),
                    ("learner", "The learner did not come"),
                    ("teacher", "The teacher did not come"),
                    ("both", "Nobody came"),
                ],
                default="",
                max_length=7,
            ),
        ),
        migrations.AddField(
            model_name="matchrequest",
            name="reason",
            field=models.CharField(blank=True, max_length=300),
        ),
    ]
