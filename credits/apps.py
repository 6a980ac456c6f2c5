from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate, post_save


def grant_signup_credits(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    """Every new user gets an account and the sign-up grant, in the transaction that
    created the user (a failed grant undoes the registration). Fixtures (``raw``) skip it."""
    if created and not raw:
        from credits.services import credits_grant_signup

        credits_grant_signup(user=instance)


class CreditsConfig(AppConfig):
    name = "credits"
    verbose_name = "Credits and ratings"

    def ready(self) -> None:
        from accounts.models import TeacherSkill
        from credits.services import system_accounts_forget, teacher_skill_score_on_save

        # Accounts stores the score on TeacherSkill (its index ranks a skill's teachers)
        # but knows nothing of ratings: credits fills it in as a row appears.
        post_save.connect(
            teacher_skill_score_on_save,
            sender=TeacherSkill,
            dispatch_uid="credits.teacher_skill_score",
        )
        # A receiver, not a call in accounts.services.user_register: accounts may not import
        # credits (apps depend one way), and users are also created by createsuperuser, the
        # admin, seed_demo and tests; the receiver covers every one of those paths.
        post_save.connect(
            grant_signup_credits,
            sender=settings.AUTH_USER_MODEL,
            dispatch_uid="credits.grant_signup_credits",
        )
        # The escrow and platform accounts are remembered per process; a flush forgets them.
        post_migrate.connect(system_accounts_forget, dispatch_uid="credits.system_accounts")
