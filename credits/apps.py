from django.apps import AppConfig


class CreditsConfig(AppConfig):
    name = "credits"
    verbose_name = "Credits and ratings"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from accounts.models import TeacherSkill
        from credits.services import teacher_skill_score_on_save

        # Accounts stores the score on TeacherSkill (its index ranks a skill's teachers)
        # but knows nothing of ratings: credits fills it in as a row appears.
        post_save.connect(
            teacher_skill_score_on_save,
            sender=TeacherSkill,
            dispatch_uid="credits.teacher_skill_score",
        )
