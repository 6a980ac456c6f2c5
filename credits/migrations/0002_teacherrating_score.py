"""The ranking score is stored with each teacher's totals (one definition in Python,
``credits.selectors.teacher_score``; queries read the stored value)."""

from django.db import migrations, models

# credits.selectors.teacher_score as of this migration (migrations do not import app code).
PRIOR_WEIGHT = 5
PRIOR_MEAN = 3.5


def fill_scores(apps, schema_editor):
    TeacherRating = apps.get_model("credits", "TeacherRating")
    for row in TeacherRating.objects.all().iterator():
        row.score = (PRIOR_WEIGHT * PRIOR_MEAN + row.total) / (PRIOR_WEIGHT + row.count)
        row.save(update_fields=["score"])


class Migration(migrations.Migration):
    dependencies = [
        ("credits", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="teacherrating",
            name="score",
            field=models.FloatField(default=0.0),
            preserve_default=False,
        ),
        migrations.RunPython(fill_scores, migrations.RunPython.noop),
    ]
