"""The ledger's arrival: users who existed before it get an account and the sign-up grant."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts.models import User
from credits.models import Account, Transfer
from credits.selectors import credits_summary
from credits.services import credits_grant_signup
from tests.credits.invariants import ledger_problems


@pytest.mark.django_db(transaction=True)
def test_users_from_before_the_ledger_get_an_account_and_the_grant_once(settings):
    settings.CREDITS_SIGNUP_GRANT = 90
    MigrationExecutor(connection).migrate([("credits", "0002_teacherrating_score")])
    # No ledger tables yet, so nothing may touch them: created without signals.
    old = User.objects.bulk_create(
        [User(username=f"early{n}", email=f"early{n}@example.test") for n in range(3)]
    )
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert Account.objects.filter(kind__in=["escrow", "platform"]).count() == 2
    for user in old:
        assert credits_summary(user=user) == {"balance": 90, "held": 0, "available": 90}
        # The key is the one new users get: asking again grants nothing more.
        grant = Transfer.objects.get(idempotency_key=f"signup:{user.pk}")
        assert credits_grant_signup(user=user) == grant
        assert credits_summary(user=user)["available"] == 90
    assert ledger_problems() == []
