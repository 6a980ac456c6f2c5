"""Benchmarks for SkillLink; never part of the tests. They measure and print, never assert.

``make bench`` (``python -m bench.report``) runs them all, one after the other, and writes
the one report, ``bench/README.md`` with ``bench/results.json``; ``make bench-quick``
runs each reduced and fails only on lost messages, errors and double bookings. The
``results*.md`` pages beside them are the records of earlier issues' runs (written by
each module with ``--write``).

Modules: ``report`` (the orchestrator and the report), ``compare`` (chat side by side
with the Socket.IO peer in ``peers/socketio``; clients ``wsclient`` and ``sioclient``;
``profile``: py-spy), ``bookings`` (open-loop booking load curves), ``chat`` (the chat
benchmark's database and rooms, reused by the others), ``room_connect`` (WebRTC in
Chromium), ``assistant`` (the assistant's streaming), ``python -m bench`` with
``run_backend`` (discovery, match and notify on SQLite and PostgreSQL: ``data`` is the
bulk loader, ``discovery``, ``match``, ``notify``), ``stats``, ``servers``, ``rawhttp``.
"""
