"""Writes for the assistant, one module per concern:

- ``exchanges``: accepting a question (checks, quota, a session's claim), finishing
  it, and the one-shot path of the API and the assistant page;
- ``room``: streaming an answer to a session's room, and stopping it;
- ``recaps``: post-session recaps (``recaps_run_due``, the background step).
"""

from assistant.services.exchanges import chat_source_register, exchange_ask, exchange_start
from assistant.services.recaps import recaps_run_due

__all__ = ["chat_source_register", "exchange_ask", "exchange_start", "recaps_run_due"]
