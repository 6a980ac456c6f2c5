"""Where our code leans on private names of Django, Channels or psycopg, an upgrade that
renames or reshapes them must fail here, loudly, not in production.

- ``skilllink/sockets.py`` re-implements ``AsyncConsumer.__call__``/``dispatch``
  (django/channels#1924: upstream's loop dispatches through a task per message and runs
  ``close_old_connections`` on the ORM thread before every message).
- ``skilllink/db.py`` swaps Django's Python ``timestamptz`` loader for psycopg's C one
  and turns psycopg's statement preparation back on for ``fetch``.
- ``skilllink/channel_layer.py`` subclasses channels-redis internals (checked in
  ``tests/cluster/test_channel_layer.py``).
"""

import inspect

import channels
import django
import psycopg
import pytest
from channels.consumer import AsyncConsumer, get_handler_name
from channels.exceptions import StopConsumer


def test_channels_consumer_internals_the_socket_base_replaces():
    assert channels.__version__ == "4.3.2", "re-check skilllink/sockets.py against upstream"
    call = inspect.getsource(AsyncConsumer.__call__)
    for name in ("self.channel_layer_alias", "self.base_send", "self.channel_receive"):
        assert name in call, name
    assert "await_many_dispatch" in call
    dispatch = inspect.getsource(AsyncConsumer.dispatch)
    assert "get_handler_name" in dispatch and "aclose_old_connections" in dispatch
    assert get_handler_name({"type": "chat.message"}) == "chat_message"
    assert issubclass(StopConsumer, Exception)


def test_django_and_psycopg_names_behind_the_fast_timestamp_loader():
    assert django.VERSION[:2] == (5, 2), "re-check skilllink/db.py against Django's backend"
    from django.db.backends.postgresql import base, psycopg_any

    # Django registers a Python loader with a ``timezone`` attribute, which its cursors
    # compare; ours keeps that contract.
    assert "timezone" in inspect.getsource(psycopg_any.BaseTzLoader)
    assert "get_adapters_template" in inspect.getsource(psycopg_any)
    assert "prepare_threshold" in inspect.getsource(base)
    assert psycopg.__version__.startswith("3.3."), "re-check skilllink/db.py against psycopg"
    from psycopg.adapt import Loader

    assert inspect.isclass(Loader)
    if psycopg.pq.__impl__ not in {"c", "binary"}:
        pytest.skip("psycopg without its C implementation: the C loader is not used")
    from skilllink.db import UtcTimestamptzLoader

    assert UtcTimestamptzLoader is not None
