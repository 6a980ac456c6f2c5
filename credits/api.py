"""REST API for credits: the balance and its history."""

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from credits.models import Transfer
from credits.selectors import credits_history, credits_summary
from skilllink.api_input import PageField
from skilllink.errors import ErrorSerializer

HISTORY_PAGE_DEFAULT = 50
HISTORY_PAGE_MAX = 200


class CreditsSummarySerializer(serializers.Serializer):
    """``{balance, held, available}``: also the ``credits`` block of ``/api/me/``."""

    balance = serializers.IntegerField(help_text="available + held")
    held = serializers.IntegerField(help_text="In escrow for open bookings")
    available = serializers.IntegerField(help_text="What can be spent now")


class CounterpartySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class CreditEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    amount = serializers.IntegerField(help_text="Credits into (+) or out of (-) your account")
    kind = serializers.ChoiceField(
        choices=Transfer.Kind.values,
        help_text="grant (sign-up), hold (set aside for a booking), release (a hold returned), "
        "payment (a session paid or earned), adjustment (by staff)",
    )
    booking = serializers.IntegerField(
        source="booking_id", allow_null=True, help_text="The session it was for"
    )
    description = serializers.CharField(help_text='What it was for, e.g. "Paid to ada for …"')
    reason = serializers.CharField()
    counterparty = serializers.SerializerMethodField(help_text="The other person, if any")
    transfer = serializers.IntegerField(source="transfer_id")
    created_at = serializers.DateTimeField()

    @extend_schema_field(CounterpartySerializer(allow_null=True))
    def get_counterparty(self, entry) -> dict | None:
        other = entry.counterparty
        return None if other is None else {"id": other.pk, "username": other.username}


class CreditsPageSerializer(CreditsSummarySerializer):
    entries = CreditEntrySerializer(many=True)
    next = serializers.URLField(
        allow_null=True, help_text="The next (older) page, or null on the last one"
    )


class CreditsApi(APIView):
    class FilterSerializer(serializers.Serializer):
        limit = PageField(
            required=False,
            default=HISTORY_PAGE_DEFAULT,
            min_value=1,
            max_value=HISTORY_PAGE_MAX,
            help_text="Entries per page.",
        )
        cursor = serializers.CharField(
            required=False,
            max_length=64,
            help_text="Where the page starts: the previous page's `next` (or its Link "
            'rel="next").',
        )

    @extend_schema(
        parameters=[
            FilterSerializer,
            OpenApiParameter(
                "Link",
                str,
                location=OpenApiParameter.HEADER,
                response=[200],
                description='`<url>; rel="next"` when older entries follow (same URL as `next`)',
            ),
        ],
        responses={200: CreditsPageSerializer, 400: ErrorSerializer, 401: ErrorSerializer},
        summary="My credits: balance, held, available, and the entries on my account, newest "
        "first (keyset pages of `limit`, continued with `cursor`)",
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        f = filters.validated_data
        timezone.activate(request.user.zone)
        page = credits_history(user=request.user, limit=f["limit"], cursor=f.get("cursor"))
        next_url = None
        if page.next_cursor:
            query = request.GET.copy()
            query["cursor"] = page.next_cursor
            next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        body = {
            **credits_summary(user=request.user),
            "entries": CreditEntrySerializer(page.entries, many=True).data,
            "next": next_url,
        }
        response = Response(body)
        if next_url:
            response["Link"] = f'<{next_url}>; rel="next"'
        return response
