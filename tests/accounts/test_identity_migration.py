"""accounts/0006 on existing data: old addresses count as verified, skeletons are filled in,
and two existing look-alike names both survive (the newer without a skeleton)."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("accounts", "0005_teacherskill_score_set_by_credits")]
AFTER = [("accounts", "0006_user_identity_hardening")]


@pytest.fixture
def back_to_latest():
    """Leave the schema as every other test expects it: all migrations applied."""
    yield
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_migration_keeps_existing_users_and_their_look_alike_names(back_to_latest):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("accounts", "User")
    paul = old.objects.create(username="paul", email="paul@example.test")
    look_alike = old.objects.create(username="p\u0430ul", email="paul2@example.test")
    no_email = old.objects.create(username="quiet", email="")

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps.get_model("accounts", "User")
    rows = {u.pk: u for u in new.objects.all()}
    assert rows[paul.pk].username_skeleton == "pau1"
    assert rows[look_alike.pk].username_skeleton is None
    assert rows[look_alike.pk].username == "p\u0430ul"
    assert rows[paul.pk].email_verified and rows[look_alike.pk].email_verified
    assert not rows[no_email.pk].email_verified
