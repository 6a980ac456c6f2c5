from django.apps import AppConfig


class AssistantConfig(AppConfig):
    name = "assistant"
    verbose_name = "AI assistant"

    def ready(self) -> None:
        # The session page belongs to scheduling, which must not import this app: the
        # recap and the session's questions reach it through its panel hook.
        from assistant.selectors import session_panels
        from scheduling.views.sessions import SESSION_PANEL_HOOKS

        if session_panels not in SESSION_PANEL_HOOKS:
            SESSION_PANEL_HOOKS.append(session_panels)
