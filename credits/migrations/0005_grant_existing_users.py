"""Open the escrow and platform accounts, and an account for every existing user with
the sign-up grant (``CREDITS_SIGNUP_GRANT``) as a platform transfer, as new users get it.

The idempotency key is the one ``credits_grant_signup`` uses, so nobody is granted twice.
"""

from django.conf import settings
from django.db import migrations
from django.utils import timezone

BATCH = 1000


def open_accounts(apps, schema_editor):
    Account = apps.get_model("credits", "Account")
    Transfer = apps.get_model("credits", "Transfer")
    LedgerEntry = apps.get_model("credits", "LedgerEntry")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    Account.objects.get_or_create(kind="escrow")
    platform, _ = Account.objects.get_or_create(kind="platform")
    grant = settings.CREDITS_SIGNUP_GRANT
    now = timezone.now()
    user_ids = list(
        User.objects.filter(credit_account__isnull=True).order_by("pk").values_list("pk", flat=True)
    )
    for start in range(0, len(user_ids), BATCH):
        batch = user_ids[start : start + BATCH]
        accounts = Account.objects.bulk_create(
            [
                Account(kind="user", user_id=user_id, available=grant, created_at=now)
                for user_id in batch
            ]
        )
        if not grant:
            continue
        # bulk_create sets primary keys on PostgreSQL and SQLite (RETURNING).
        transfers = Transfer.objects.bulk_create(
            [
                Transfer(
                    kind="grant",
                    reason=f"Every account starts with {grant} credits.",
                    idempotency_key=f"signup:{user_id}",
                    created_at=now,
                )
                for user_id in batch
            ]
        )
        entries = []
        for account, transfer in zip(accounts, transfers, strict=True):
            entries.append(LedgerEntry(transfer=transfer, account=platform, amount=-grant))
            entries.append(LedgerEntry(transfer=transfer, account=account, amount=grant))
        LedgerEntry.objects.bulk_create(entries)


class Migration(migrations.Migration):
    dependencies = [
        ("credits", "0004_ledger_append_only"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(open_accounts, migrations.RunPython.noop)]
