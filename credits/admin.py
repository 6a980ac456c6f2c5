import uuid

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from credits.models import Account, Hold, LedgerEntry, Rating, TeacherRating, Transfer
from credits.selectors import credits_account_balance
from credits.services import credits_adjust
from skilllink.errors import AppError


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    list_display = ["booking", "teacher", "learner", "stars", "created_at"]
    list_filter = ["stars", "created_at"]
    search_fields = ["teacher__username", "learner__username", "feedback"]
    list_select_related = ["teacher", "learner", "booking"]
    raw_id_fields = ["booking", "teacher", "learner"]
    readonly_fields = ["booking", "teacher", "learner", "stars", "created_at"]


@admin.register(TeacherRating)
class TeacherRatingAdmin(admin.ModelAdmin):
    """Running totals kept by credits.services; shown for support, never edited by hand."""

    list_display = ["teacher", "count", "total", "average"]
    search_fields = ["teacher__username"]
    list_select_related = ["teacher"]
    readonly_fields = ["teacher", "count", "total"]

    @admin.display(description="average")
    def average(self, obj):
        return round(obj.total / obj.count, 2) if obj.count else None

    def has_add_permission(self, request):
        return False


# --- The credit ledger: read-only; balances change only through the adjust action ---------


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown for support, never edited: the ledger is written by credits.services only."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AdjustCreditsForm(forms.Form):
    amount = forms.IntegerField(
        min_value=-1_000_000,
        max_value=1_000_000,
        help_text="Credits to add; a negative number takes credits away (never below zero).",
    )
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required; shown to the user in their credit history.",
    )
    # One per rendered form, so submitting the same form twice adjusts once.
    key = forms.RegexField(regex=r"^[0-9a-f]{32}$", widget=forms.HiddenInput)

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError("Give a non-zero number of credits.")
        return amount

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Give a reason.")
        return reason


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "kind", "available_", "held_", "balance", "entries_link"]
    list_filter = ["kind"]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user"]
    readonly_fields = ["kind", "user", "available", "held", "balance", "created_at"]
    fields = readonly_fields
    actions = ["adjust_credits"]

    # Stored for user accounts only: the escrow's and platform's are summed (balance).
    @admin.display(description="available")
    def available_(self, obj):
        return obj.available if obj.kind == Account.Kind.USER else None

    @admin.display(description="held")
    def held_(self, obj):
        return obj.held if obj.kind == Account.Kind.USER else None

    @admin.display(description="balance")
    def balance(self, obj):
        if obj.kind == Account.Kind.USER:
            return obj.balance
        return credits_account_balance(account=obj)

    @admin.display(description="entries")
    def entries_link(self, obj):
        url = reverse("admin:credits_ledgerentry_changelist") + f"?account__id__exact={obj.pk}"
        return format_html('<a href="{}">entries</a>', url)

    def has_adjust_permission(self, request):
        return request.user.has_perm("credits.adjust_credits")

    @admin.action(description="Adjust credits of the selected users…", permissions=["adjust"])
    def adjust_credits(self, request, queryset):
        accounts = list(queryset.filter(kind=Account.Kind.USER).select_related("user"))
        if not accounts:
            self.message_user(request, "Select user accounts to adjust.", messages.WARNING)
            return None
        form = AdjustCreditsForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            done = 0
            for account in accounts:
                try:
                    credits_adjust(
                        user=account.user,
                        amount=form.cleaned_data["amount"],
                        reason=form.cleaned_data["reason"],
                        actor=request.user,
                        idempotency_key=f"{form.cleaned_data['key']}-{account.pk}",
                    )
                except AppError as error:
                    self.message_user(request, f"{account.user}: {error.detail}", messages.ERROR)
                else:
                    done += 1
            if done:
                self.message_user(
                    request,
                    f"Adjusted {done} account{'s' if done != 1 else ''} by "
                    f"{form.cleaned_data['amount']:+d} credits.",
                    messages.SUCCESS,
                )
            return None  # back to the list
        if not form.is_bound:
            form = AdjustCreditsForm(initial={"key": uuid.uuid4().hex})
        context = {
            **self.admin_site.each_context(request),
            "title": "Adjust credits",
            "opts": self.model._meta,
            "accounts": accounts,
            "form": form,
            "action": "adjust_credits",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/credits/account/adjust_credits.html", context)


class LedgerEntryInline(admin.TabularInline):
    model = LedgerEntry
    fields = ["account", "amount"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "booking_id", "reason", "actor", "created_at"]
    list_filter = ["kind", "created_at"]
    search_fields = ["reason", "idempotency_key", "entries__account__user__username"]
    list_select_related = ["actor"]
    readonly_fields = [
        "kind",
        "reason",
        "booking_id",
        "idempotency_key",
        "actor",
        "created_at",
    ]
    fields = readonly_fields
    inlines = [LedgerEntryInline]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "account", "amount", "transfer", "kind", "created_at"]
    list_filter = ["transfer__kind"]
    search_fields = ["account__user__username"]
    list_select_related = ["account__user", "transfer"]
    readonly_fields = ["transfer", "account", "amount"]
    fields = readonly_fields

    @admin.display(description="kind")
    def kind(self, obj):
        return obj.transfer.get_kind_display()

    @admin.display(description="when")
    def created_at(self, obj):
        return obj.transfer.created_at


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = ["booking_id", "account", "amount", "is_open", "created_at", "closed_at"]
    search_fields = ["account__user__username"]
    list_select_related = ["account__user"]
    readonly_fields = [
        "booking_id",
        "account",
        "amount",
        "opened_by",
        "closed_by",
        "created_at",
        "closed_at",
    ]
    fields = readonly_fields

    @admin.display(boolean=True, description="open")
    def is_open(self, obj):
        return obj.is_open
