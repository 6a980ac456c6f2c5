"""A slot whose session completed is never offered again (issue: an early end freed it).

The partial unique index now also covers completed bookings. Before it is built, any
slot that already holds more than one such booking (the bug let a second learner book
the rest of an early-ended session) keeps its earliest one; the later ones are detached
from the slot (their own start/end stay, as when a teacher deletes an old slot).
"""

from django.db import migrations, models

TAKEN = ["requested", "scheduled", "in_progress", "completed"]


def detach_later_bookings(apps, schema_editor):
    Booking = apps.get_model("scheduling", "Booking")
    seen: set[int] = set()
    later = []
    rows = (
        Booking.objects.filter(status__in=TAKEN, slot__isnull=False)
        .order_by("slot_id", "created_at", "id")
        .values_list("id", "slot_id")
    )
    for booking_id, slot_id in rows.iterator():
        if slot_id in seen:
            later.append(booking_id)
        seen.add(slot_id)
    if later:
        Booking.objects.filter(pk__in=later).update(slot=None)


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0006_slot_teacher_index_is_teacher_start"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="booking",
            name="booking_one_active_per_slot",
        ),
        migrations.RunPython(detach_later_bookings, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="booking",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status__in", TAKEN)),
                fields=("slot",),
                name="booking_one_per_slot",
                violation_error_message="That slot has just been taken.",
            ),
        ),
    ]
