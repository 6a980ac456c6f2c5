"""Django admin: the ledger is read-only; staff adjust balances through the action's form."""

import re

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from credits.models import Account, LedgerEntry, Transfer
from credits.selectors import credits_summary
from tests.factories import make_learner, make_staff

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:credits_account_changelist")


def account_of(user) -> Account:
    return Account.objects.get(user=user)


def start_adjustment(client, *accounts):
    """Choose the action on the list: the intermediate form page."""
    return client.post(
        CHANGELIST,
        {"action": "adjust_credits", ACTION_CHECKBOX_NAME: [a.pk for a in accounts]},
    )


def form_key(response) -> str:
    return re.search(r'name="key" value="([0-9a-f]{32})"', response.content.decode()).group(1)


def apply_adjustment(client, accounts, *, amount, reason, key):
    return client.post(
        CHANGELIST,
        {
            "action": "adjust_credits",
            ACTION_CHECKBOX_NAME: [a.pk for a in accounts],
            "apply": "Adjust credits",
            "amount": amount,
            "reason": reason,
            "key": key,
        },
        follow=True,
    )


def test_the_adjust_action_asks_for_an_amount_and_a_reason_then_writes_a_transfer(client):
    staff, user = make_staff(), make_learner()
    client.force_login(staff)
    page = start_adjustment(client, account_of(user))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="amount"' in html and 'name="reason"' in html
    assert f"{user.username}: 120 available, 0 held" in html
    response = apply_adjustment(
        client, [account_of(user)], amount=-20, reason="Refund of a test grant", key=form_key(page)
    )
    assert response.redirect_chain[-1][0].endswith(CHANGELIST)
    assert "Adjusted 1 account by -20 credits." in response.content.decode()
    assert credits_summary(user=user)["available"] == 100
    transfer = Transfer.objects.get(kind="adjustment")
    assert (transfer.reason, transfer.actor) == ("Refund of a test grant", staff)


def test_the_adjust_form_refuses_a_missing_reason_or_zero_and_changes_nothing(client):
    staff, user = make_staff(), make_learner()
    client.force_login(staff)
    key = form_key(start_adjustment(client, account_of(user)))
    for amount, reason in [(10, ""), (10, "   "), (0, "Nothing"), ("ten", "Words")]:
        response = apply_adjustment(
            client, [account_of(user)], amount=amount, reason=reason, key=key
        )
        assert response.status_code == 200
        assert 'class="errorlist' in response.content.decode()
    assert not Transfer.objects.filter(kind="adjustment").exists()


def test_submitting_the_same_adjust_form_twice_adjusts_once(client):
    staff, a, b = make_staff(), make_learner(), make_learner()
    client.force_login(staff)
    accounts = [account_of(a), account_of(b)]
    key = form_key(start_adjustment(client, *accounts))
    for _ in range(2):
        apply_adjustment(client, accounts, amount=15, reason="Launch bonus", key=key)
    assert credits_summary(user=a)["available"] == 135
    assert credits_summary(user=b)["available"] == 135
    assert Transfer.objects.filter(kind="adjustment").count() == 2


def test_the_adjust_action_reports_an_account_that_cannot_go_below_zero(client):
    staff, user = make_staff(), make_learner()
    client.force_login(staff)
    key = form_key(start_adjustment(client, account_of(user)))
    response = apply_adjustment(client, [account_of(user)], amount=-121, reason="Too much", key=key)
    assert "This needs 121 credits and 120 are available." in response.content.decode()
    assert credits_summary(user=user)["available"] == 120


def test_staff_without_the_adjust_permission_do_not_get_the_action(client):
    from django.contrib.auth.models import Permission

    staff, user = make_staff(superuser=False), make_learner()
    staff.user_permissions.add(Permission.objects.get(codename="view_account"))
    client.force_login(staff)
    listing = client.get(CHANGELIST)
    assert listing.status_code == 200
    assert "adjust_credits" not in listing.content.decode()
    apply_adjustment(client, [account_of(user)], amount=5, reason="Sneaky", key="0" * 32)
    assert credits_summary(user=user)["available"] == 120


@pytest.mark.parametrize("model", ["account", "transfer", "ledgerentry", "hold"])
def test_the_ledger_is_read_only_in_admin(client, model):
    staff = make_staff()
    make_learner()
    entries = LedgerEntry.objects.count()
    client.force_login(staff)
    listing = client.get(reverse(f"admin:credits_{model}_changelist"))
    assert listing.status_code == 200
    assert client.get(reverse(f"admin:credits_{model}_add")).status_code == 403
    obj = {
        "account": Account.objects.filter(kind="user").first(),
        "transfer": Transfer.objects.first(),
        "ledgerentry": LedgerEntry.objects.first(),
    }.get(model)
    if obj is not None:
        change_url = reverse(f"admin:credits_{model}_change", args=[obj.pk])
        page = client.get(change_url)
        assert page.status_code == 200
        assert 'name="_save"' not in page.content.decode()
        assert client.post(change_url, {}).status_code == 403
        delete_url = reverse(f"admin:credits_{model}_delete", args=[obj.pk])
        assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert LedgerEntry.objects.count() == entries
