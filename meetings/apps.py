from django.apps import AppConfig


class MeetingsConfig(AppConfig):
    name = "meetings"
    verbose_name = "Meetings"

    def ready(self) -> None:
        # The assistant (below this app) quotes the chat in recaps and API questions
        # through this reader; the room hands it the chat itself.
        from assistant.services import chat_source_register
        from meetings.selectors import chat_lines

        chat_source_register(chat_lines)
