from django.apps import AppConfig


class SkillLinkConfig(AppConfig):
    """Platform-wide wiring that belongs to no feature app."""

    name = "skilllink"
    verbose_name = "SkillLink"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created
        from django.urls import register_converter

        from skilllink.api_input import IdConverter

        # <id:...> in every URL pattern: ids a database can hold, else 404.
        register_converter(IdConverter, "id")

        from skilllink.db import fast_timestamps_install

        connection_created.connect(
            fast_timestamps_install, dispatch_uid="skilllink.fast_timestamps"
        )
