from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "scheduling"
    verbose_name = "Scheduling"

    def ready(self) -> None:
        from accounts.signals import teacher_skill_removed
        from scheduling.services.slots import slots_forget_skill

        teacher_skill_removed.connect(
            lambda sender, **kwargs: slots_forget_skill(**kwargs),
            weak=False,
            dispatch_uid="scheduling.slots_forget_skill",
        )
