"""The ledger's invariants, checked from the tables themselves (not through the selectors
under test): used after every step of the property test and at the end of other tests."""

from django.db.models import Sum

from credits.models import Account, Hold, LedgerEntry, Transfer


def ledger_problems() -> list[str]:
    """Every broken invariant, described; an empty list when the ledger is consistent."""
    problems = []
    total = LedgerEntry.objects.aggregate(total=Sum("amount"))["total"] or 0
    if total != 0:
        problems.append(f"all entries sum to {total}, not 0")
    unbalanced = (
        LedgerEntry.objects.values("transfer")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
        .values_list("transfer", "total")
    )
    problems += [f"transfer {t} nets to {n}" for t, n in unbalanced]
    sums = dict(
        LedgerEntry.objects.values("account").annotate(s=Sum("amount")).values_list("account", "s")
    )
    open_held = dict(
        Hold.objects.filter(closed_by=None)
        .values("account")
        .annotate(s=Sum("amount"))
        .values_list("account", "s")
    )
    escrow_expected = 0
    for account in Account.objects.all():
        entries = sums.get(account.pk, 0)
        if account.kind == Account.Kind.USER:
            if account.available != entries:
                problems.append(
                    f"{account}: stored available {account.available} != entries {entries}"
                )
            if account.held != open_held.get(account.pk, 0):
                problems.append(f"{account}: stored held {account.held} != open holds")
            if account.available < 0 or account.held < 0:
                problems.append(f"{account}: negative")
            # balance = available + held = the entries of every transfer that is not a hold
            # or its return (those only move credits between available and held).
            moving = (
                LedgerEntry.objects.filter(account=account)
                .exclude(transfer__kind__in=[Transfer.Kind.HOLD, Transfer.Kind.RELEASE])
                .aggregate(s=Sum("amount"))["s"]
                or 0
            )
            if account.available + account.held != moving:
                problems.append(f"{account}: balance != grants + payments + adjustments")
            escrow_expected += account.held
        elif account.kind == Account.Kind.ESCROW and entries != sum(open_held.values()):
            problems.append(
                f"escrow holds {entries}, open holds add up to {sum(open_held.values())}"
            )
    escrow = Account.objects.filter(kind=Account.Kind.ESCROW).first()
    if escrow is not None and sums.get(escrow.pk, 0) != escrow_expected:
        problems.append("escrow != sum of users' held")
    return problems
