"""TeacherSkill.score: the teacher's ranking score stored per skill, filled from the
rating totals, and the (skill, score desc, teacher) index that replaces (skill, teacher)."""

from django.db import migrations, models
from django.db.models import F, FloatField, OuterRef, Subquery, Value
from django.db.models.functions import Cast, Coalesce

# The formula of credits.selectors.teacher_score as it stands at this migration:
# (PRIOR_WEIGHT * PRIOR_MEAN + total) / (PRIOR_WEIGHT + count), prior 5 ratings of 3.5.
PRIOR_WEIGHT = 5
PRIOR_MEAN = 3.5


def fill_scores(apps, schema_editor):
    TeacherSkill = apps.get_model("accounts", "TeacherSkill")
    TeacherRating = apps.get_model("credits", "TeacherRating")
    score = (Value(PRIOR_WEIGHT * PRIOR_MEAN) + Cast(F("total"), FloatField())) / (
        Value(float(PRIOR_WEIGHT)) + Cast(F("count"), FloatField())
    )
    summary = TeacherRating.objects.filter(teacher=OuterRef("teacher")).annotate(
        score=models.ExpressionWrapper(score, output_field=FloatField())
    )
    TeacherSkill.objects.update(
        score=Coalesce(Subquery(summary.values("score")[:1]), Value(PRIOR_MEAN))
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_teacherskill_index_by_skill_then_teacher"),
        ("credits", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="teacherskill",
            name="score",
            field=models.FloatField(default=3.5, editable=False),
        ),
        migrations.RunPython(fill_scores, migrations.RunPython.noop, elidable=False),
        # The new index first, then the one it replaces.
        migrations.AddIndex(
            model_name="teacherskill",
            index=models.Index(
                fields=["skill", "-score", "teacher"], name="teacher_skill_by_score"
            ),
        ),
        migrations.RemoveIndex(model_name="teacherskill", name="teacher_skill_by_skill"),
    ]
