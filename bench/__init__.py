"""Benchmarks for SkillLink (``make bench`` / ``python -m bench``); never part of the tests.

``python -m bench`` spawns ``python -m bench.run_backend sqlite|postgres`` once per
database backend, each against a throw-away database it creates, loads and removes,
and prints one table (also written to ``bench/results.md``). Benchmarks measure and
print; they never assert.

Modules: ``data`` (bulk loader), ``discovery`` (issue 3: teacher list and open-slot
queries), ``match`` (issue 4: ``POST /api/match/``), ``notify`` (issue 4: booking
request to the teacher's socket across two server processes on Redis), ``stats``
(percentiles and the table), ``run_backend`` (one backend, one process).
"""
