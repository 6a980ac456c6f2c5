"""REST API for scheduling: slots, teachers, bookings, matchmaking."""

from base64 import urlsafe_b64decode, urlsafe_b64encode
from datetime import datetime

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.services import subscription_upgrade
from credits.selectors import credits_for_bookings, credits_price, rating_summary
from scheduling import selectors, transitions
from scheduling.models import Booking
from scheduling.payloads import booking_payload, slot_payload
from scheduling.quota import plan_summary
from scheduling.rules import ACTIONS
from scheduling.services import bookings as booking_services
from scheduling.services import matching, slots
from skilllink.api_input import BodySerializer, IdField, MomentField, PageField
from skilllink.errors import ErrorSerializer, ValidationFailed

# Deep pages of a ranking are for scrapers, not people; the bound keeps OFFSET sane.
TEACHERS_OFFSET_MAX = 10_000


class UserZoneMixin:
    """Read naive input times in the user's zone; render times with an offset."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.user.is_authenticated:
            timezone.activate(request.user.zone)


# --- Shapes (for the schema; responses are built by scheduling.payloads) ---------------


class SkillRefSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class SlotSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    teacher = serializers.IntegerField()
    skill = SkillRefSerializer(allow_null=True)
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=["open", "requested", "booked", "past"])


class RescheduleSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(
        choices=["pending", "accepted", "declined", "withdrawn", "closed"]
    )
    slot = serializers.IntegerField(allow_null=True, help_text="The open slot asked for.")
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    from_start = serializers.DateTimeField(help_text="The session's time it would replace.")
    from_end = serializers.DateTimeField()
    price = serializers.IntegerField(help_text="Credits the session costs at the new time.")
    message = serializers.CharField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    answered_at = serializers.DateTimeField(allow_null=True)


class BookingSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Booking.Status.values)
    slot = serializers.IntegerField(allow_null=True)
    teacher = UserRefSerializer()
    learner = UserRefSerializer()
    skill = SkillRefSerializer(allow_null=True)
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    message = serializers.CharField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    accepted_at = serializers.DateTimeField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)
    duration_seconds = serializers.IntegerField(
        allow_null=True, help_text="Seconds both were in the room, once it ended."
    )
    counts_for_quota = serializers.BooleanField()
    absent = serializers.CharField(
        allow_null=True,
        help_text="Who never came (learner, teacher or both), for a session that ended as a "
        "no-show.",
    )
    reschedule = RescheduleSerializer(
        allow_null=True, help_text="The pending request to move it to another slot, if any."
    )
    credits_held = serializers.IntegerField(help_text="Credits in escrow for it now.")
    credits_paid = serializers.IntegerField(help_text="Credits its teacher was paid.")
    actions = serializers.ListField(
        child=serializers.ChoiceField(choices=list(ACTIONS)),
        help_text="What you may do with it now: accept, decline, cancel, join, complete, rate, "
        "reschedule, accept_reschedule, decline_reschedule, withdraw_reschedule.",
    )


# --- Slots ---------------------------------------------------------------------------


SLOTS_PAGE_DEFAULT = 100
SLOTS_PAGE_MAX = 500


def slot_cursor(slot) -> str:
    """The opaque ``cursor`` of the page after ``slot`` (open slots are ordered by start, id)."""
    return urlsafe_b64encode(f"{slot.start.isoformat()}|{slot.pk}".encode()).decode().rstrip("=")


def _slot_cursor_position(cursor: str) -> tuple[datetime, int]:
    try:
        text = urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, slot_id = text.rsplit("|", 1)
        position = datetime.fromisoformat(moment), int(slot_id)
    except ValueError:
        position = None
    if position is None or position[0].tzinfo is None:
        raise ValidationFailed(
            "Invalid cursor.", fields={"cursor": ["Use the next link as given."]}
        )
    return position


class SlotListApi(UserZoneMixin, APIView):
    def get_permissions(self):
        # Open slots are public, like the teachers' profiles that show them (issue 15);
        # a teacher's own slots (mine=true) and publishing need an account.
        if self.request.method == "GET":
            return [AllowAny()]
        return super().get_permissions()

    class SlotFilterSerializer(serializers.Serializer):
        teacher = IdField(required=False)
        skill = serializers.SlugField(required=False)
        start = MomentField(required=False)
        end = MomentField(required=False)
        mine = serializers.BooleanField(required=False, default=False)
        limit = serializers.IntegerField(
            required=False,
            default=SLOTS_PAGE_DEFAULT,
            min_value=1,
            max_value=SLOTS_PAGE_MAX,
            help_text="Open slots per page (not with mine=true, which lists all).",
        )
        cursor = serializers.CharField(
            required=False,
            help_text='Where the page starts: taken from the previous page\'s Link rel="next".',
        )

    class SlotCreateSerializer(BodySerializer):
        start = MomentField()
        end = MomentField()
        skill = serializers.SlugField(required=False, allow_null=True, allow_blank=True)
        repeat_weeks = serializers.IntegerField(
            required=False, default=1, min_value=1, max_value=slots.MAX_REPEAT_WEEKS
        )

    @extend_schema(
        parameters=[
            SlotFilterSerializer,
            OpenApiParameter(
                "Link",
                str,
                location=OpenApiParameter.HEADER,
                response=[200],
                description='`<url>; rel="next"` when another page of open slots follows',
            ),
        ],
        responses={
            200: OpenApiResponse(
                SlotSerializer(many=True),
                description="Open slots by start, then id: one page of `limit`; a "
                '`Link: <url>; rel="next"` header gives the next page when there is one.',
            ),
            400: ErrorSerializer,
        },
        summary="Open slots, paged (or, with mine=true, all of my own slots with their status)",
    )
    def get(self, request):
        filters = self.SlotFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        f = filters.validated_data
        if f["mine"]:
            if not request.user.is_authenticated:
                raise NotAuthenticated()
            own = selectors.slots_of_teacher(
                teacher=request.user, start=f.get("start"), end=f.get("end")
            )
            now = timezone.now()
            return Response([slot_payload(s, status=selectors.slot_status(s, now)) for s in own])
        limit = f["limit"]
        open_slots = selectors.slots_list(
            teacher_id=f.get("teacher"),
            skill_slug=f.get("skill"),
            start=f.get("start"),
            end=f.get("end"),
            limit=limit + 1,  # one more tells whether a next page exists
            after=_slot_cursor_position(f["cursor"]) if "cursor" in f else None,
        )
        response = Response([slot_payload(s, status="open") for s in open_slots[:limit]])
        if len(open_slots) > limit:
            query = request.GET.copy()
            query["cursor"] = slot_cursor(open_slots[limit - 1])
            next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
            response["Link"] = f'<{next_url}>; rel="next"'
        return response

    @extend_schema(
        request=SlotCreateSerializer,
        responses={
            201: OpenApiResponse(
                PolymorphicProxySerializer(
                    component_name="SlotOrWeeklySlots",
                    serializers=[SlotSerializer, SlotSerializer(many=True)],
                    resource_type_field_name=None,
                    many=False,
                ),
                description="The slot; with repeat_weeks > 1, the list of the weekly slots.",
            ),
            400: ErrorSerializer,
            403: ErrorSerializer,
            409: OpenApiResponse(ErrorSerializer, description="`slot_overlap`"),
        },
        summary="Publish a slot (teachers only); repeat_weeks>1 publishes it weekly, all or nothing",
    )
    def post(self, request):
        data = self.SlotCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        if d["repeat_weeks"] > 1:
            created = slots.slot_create_weekly(
                teacher=request.user,
                start=d["start"],
                end=d["end"],
                weeks=d["repeat_weeks"],
                skill_slug=d.get("skill") or None,
            )
            return Response(
                [slot_payload(s, status="open") for s in created], status=status.HTTP_201_CREATED
            )
        slot = slots.slot_create(
            teacher=request.user, start=d["start"], end=d["end"], skill_slug=d.get("skill") or None
        )
        return Response(slot_payload(slot, status="open"), status=status.HTTP_201_CREATED)


class SlotDetailApi(UserZoneMixin, APIView):
    class SlotUpdateSerializer(BodySerializer):
        start = MomentField(required=False)
        end = MomentField(required=False)
        skill = serializers.SlugField(required=False, allow_null=True, allow_blank=True)

    @extend_schema(
        request=SlotUpdateSerializer,
        responses={
            200: SlotSerializer,
            403: OpenApiResponse(ErrorSerializer, description="`forbidden`: not a teacher."),
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
        summary="Move, resize or re-skill my slot",
    )
    def patch(self, request, slot_id: int):
        data = self.SlotUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        kwargs = {"skill_slug": d["skill"] or None} if "skill" in d else {}
        slot = slots.slot_update(
            teacher=request.user, slot_id=slot_id, start=d.get("start"), end=d.get("end"), **kwargs
        )
        return Response(slot_payload(slot, status="open"))

    @extend_schema(
        responses={
            204: None,
            403: OpenApiResponse(ErrorSerializer, description="`forbidden`: not a teacher."),
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
        summary="Delete my slot (not while it has a booking)",
    )
    def delete(self, request, slot_id: int):
        slots.slot_delete(teacher=request.user, slot_id=slot_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Teachers ------------------------------------------------------------------------


class TeacherSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    bio = serializers.CharField()
    headline = serializers.CharField(help_text="One line under the name (may be empty).")
    photo_url = serializers.CharField(
        allow_null=True, help_text="The square profile photo's URL; null without a photo."
    )
    profile_url = serializers.CharField(help_text="The public profile page, by username.")
    timezone = serializers.CharField()
    skills = inline_serializer(
        "TeacherSkillRef",
        {
            "slug": serializers.CharField(),
            "name": serializers.CharField(),
            "level": serializers.CharField(),
            "blurb": serializers.CharField(),
        },
        many=True,
    )
    rating = inline_serializer(
        "RatingSummary",
        {
            "average": serializers.FloatField(allow_null=True),
            "count": serializers.IntegerField(),
            "score": serializers.FloatField(),
        },
    )
    next_open_slot = serializers.DateTimeField(allow_null=True)
    next_open = inline_serializer(
        "NextOpenTime",
        {
            "slot": serializers.IntegerField(),
            "start": serializers.DateTimeField(),
            "end": serializers.DateTimeField(),
            "skill": inline_serializer(
                "NextOpenSkill",
                {"slug": serializers.CharField(), "name": serializers.CharField()},
                allow_null=True,
            ),
        },
        many=True,
        help_text="The first open slots (up to 3, fitting the skill filter) in the next 14 days.",
    )
    sessions_taught = serializers.IntegerField()
    reliability = serializers.IntegerField(
        allow_null=True,
        help_text="Percent of their sessions the teacher kept (null without history).",
    )
    price_per_hour = serializers.IntegerField(help_text="Credits an hour of session costs.")


def teacher_payload(teacher: selectors.TeacherCard) -> dict:
    return {
        "id": teacher.pk,
        "username": teacher.username,
        "bio": teacher.bio,
        "headline": teacher.headline,
        "photo_url": teacher.photo_url or None,
        "profile_url": reverse("scheduling:teacher_detail", args=[teacher.username]),
        "timezone": teacher.timezone,
        "skills": [
            {"slug": ts.slug, "name": ts.name, "level": ts.level, "blurb": ts.blurb}
            for ts in teacher.skills
        ],
        "rating": rating_summary(
            count=teacher.rating_count, total=teacher.rating_total, score=teacher.score
        ),
        "next_open_slot": teacher.next_open_slot.isoformat() if teacher.next_open_slot else None,
        "next_open": [
            {
                "slot": slot.pk,
                "start": slot.start.isoformat(),
                "end": slot.end.isoformat(),
                "skill": None
                if slot.skill is None
                else {"slug": slot.skill.slug, "name": slot.skill.name},
            }
            for slot in teacher.next_open
        ],
        "sessions_taught": teacher.sessions_taught,
        "reliability": teacher.reliability,
        "price_per_hour": credits_price(minutes=60),
    }


class TeacherListApi(APIView):
    permission_classes = [AllowAny]

    class TeacherFilterSerializer(serializers.Serializer):
        skill = serializers.SlugField(required=False)
        q = serializers.CharField(required=False, max_length=100)
        limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100)
        offset = PageField(required=False, default=0, max_value=TEACHERS_OFFSET_MAX)

    @extend_schema(
        parameters=[TeacherFilterSerializer],
        responses={200: TeacherSerializer(many=True)},
        summary="Teachers ranked best first (rating score, then soonest open slot)",
    )
    def get(self, request):
        filters = self.TeacherFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        f = filters.validated_data
        teachers = selectors.teachers_ranked(
            skill_slug=f.get("skill"), q=f.get("q"), limit=f["limit"], offset=f["offset"]
        )
        return Response([teacher_payload(t) for t in teachers])


class TeacherDetailApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        responses={200: TeacherSerializer, 404: ErrorSerializer}, summary="One teacher's card"
    )
    def get(self, request, teacher_id: int):
        return Response(teacher_payload(selectors.teacher_get(teacher_id=teacher_id)))


# --- Bookings ------------------------------------------------------------------------


class BookingListApi(UserZoneMixin, APIView):
    class BookingFilterSerializer(serializers.Serializer):
        status = serializers.CharField(required=False)
        # "as" is a Python keyword, so the field is named via source.
        role = serializers.ChoiceField(choices=["learner", "teacher"], required=False)

    class BookingCreateSerializer(BodySerializer):
        slot = IdField()
        skill = serializers.SlugField(required=False, allow_blank=True, allow_null=True)
        message = serializers.CharField(required=False, allow_blank=True, max_length=1000)

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, description="comma-separated statuses"),
            OpenApiParameter("as", str, enum=["learner", "teacher"]),
        ],
        responses={200: BookingSerializer(many=True)},
        summary="My sessions",
    )
    def get(self, request):
        params = {"status": request.query_params.get("status")}
        if "as" in request.query_params:
            params["role"] = request.query_params["as"]
        filters = self.BookingFilterSerializer(data={k: v for k, v in params.items() if v})
        filters.is_valid(raise_exception=True)
        statuses = filters.validated_data.get("status")
        if statuses:
            unknown = set(statuses.split(",")) - set(Booking.Status.values)
            if unknown:
                raise ValidationFailed(
                    "Unknown status.", fields={"status": [f"Unknown: {', '.join(sorted(unknown))}"]}
                )
        items = selectors.bookings_for_user(
            user=request.user, status=statuses, as_role=filters.validated_data.get("role")
        )
        now = timezone.now()
        return Response(
            _booking_payloads(transitions.bookings_apply_due(bookings=items, now=now), request.user)
        )

    @extend_schema(
        request=BookingCreateSerializer,
        responses={
            201: BookingSerializer,
            400: ErrorSerializer,
            402: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
        summary="Request a slot (learners only)",
    )
    def post(self, request):
        data = self.BookingCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        booking = booking_services.booking_request(
            learner=request.user,
            slot_id=d["slot"],
            skill_slug=d.get("skill") or None,
            message=d.get("message", ""),
        )
        return Response(
            booking_payload(booking, viewer=request.user), status=status.HTTP_201_CREATED
        )


def _booking_payloads(bookings: list[Booking], viewer) -> list[dict]:
    """Payloads of many bookings with one read of the ledger, and one of their pending
    moves, for all of them."""
    money = credits_for_bookings(booking_ids=[booking.pk for booking in bookings])
    selectors.pending_reschedules_attach(bookings=bookings)
    return [
        booking_payload(
            booking, viewer=viewer, credits=money.get(booking.pk, {"held": 0, "paid": 0})
        )
        for booking in bookings
    ]


class BookingDetailApi(UserZoneMixin, APIView):
    @extend_schema(
        responses={200: BookingSerializer, 404: ErrorSerializer},
        summary="One of my sessions (404 for anyone else's)",
    )
    def get(self, request, booking_id: int):
        booking = transitions.booking_get_for_user(user=request.user, booking_id=booking_id)
        return Response(booking_payload(booking, viewer=request.user))


class ReasonSerializer(BodySerializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


def _action_view(action: str, summary: str):
    class BookingActionApi(APIView):
        @extend_schema(
            request=ReasonSerializer,
            responses={
                200: BookingSerializer,
                403: ErrorSerializer,
                404: ErrorSerializer,
                409: ErrorSerializer,
            },
            summary=summary,
            operation_id=f"bookings_{action}",
        )
        def post(self, request, booking_id: int):
            data = ReasonSerializer(data=request.data or {})
            data.is_valid(raise_exception=True)
            booking = transitions.booking_act(
                action=action,
                booking_id=booking_id,
                user=request.user,
                reason=data.validated_data["reason"],
            )
            return Response(booking_payload(booking, viewer=request.user))

    BookingActionApi.__name__ = f"Booking{action.title()}Api"
    return BookingActionApi.as_view()


booking_accept_view = _action_view("accept", "Accept a request (the teacher)")
booking_decline_view = _action_view("decline", "Decline a request (the teacher)")
booking_cancel_view = _action_view("cancel", "Cancel before the start (either participant)")
booking_join_view = _action_view("join", "Enter the room (first join starts the session)")
booking_complete_view = _action_view("complete", "End the session (either participant)")
booking_reschedule_accept_view = _action_view(
    "accept_reschedule", "Accept the learner's request to move the session (the teacher)"
)
booking_reschedule_decline_view = _action_view(
    "decline_reschedule", "Decline the request to move the session: it keeps its time"
)


class BookingRescheduleApi(UserZoneMixin, APIView):
    class RescheduleCreateSerializer(BodySerializer):
        slot = IdField(help_text="An open slot of the same teacher.")
        message = serializers.CharField(required=False, allow_blank=True, max_length=500)

    @extend_schema(
        request=RescheduleCreateSerializer,
        responses={
            201: BookingSerializer,
            400: ErrorSerializer,
            402: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
        summary="Ask to move a scheduled session to another open slot of its teacher (the learner)",
        operation_id="bookings_reschedule",
    )
    def post(self, request, booking_id: int):
        data = self.RescheduleCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        transitions.booking_reschedule(
            booking_id=booking_id,
            learner=request.user,
            slot_id=data.validated_data["slot"],
            message=data.validated_data.get("message", ""),
        )
        booking = transitions.booking_get_for_user(user=request.user, booking_id=booking_id)
        return Response(
            booking_payload(booking, viewer=request.user), status=status.HTTP_201_CREATED
        )

    @extend_schema(
        request=None,
        responses={
            200: BookingSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
        summary="Withdraw my pending request to move the session (the learner)",
        operation_id="bookings_reschedule_withdraw",
    )
    def delete(self, request, booking_id: int):
        booking = transitions.booking_reschedule_withdraw(
            booking_id=booking_id, learner=request.user
        )
        return Response(booking_payload(booking, viewer=request.user))


# --- Matchmaking ---------------------------------------------------------------------


class MatchRequestSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    skill = serializers.CharField()
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField()
    status = serializers.CharField()
    booking = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    reason = serializers.CharField(
        help_text="Why a pending request still waits (a fitting slot it could not take)."
    )
    day_start = serializers.CharField(allow_null=True, help_text="HH:MM, or null: any time.")
    day_end = serializers.CharField(allow_null=True)


def match_request_payload(pending) -> dict:
    return {
        "id": pending.pk,
        "skill": pending.skill.slug,
        "window_start": pending.window_start.isoformat(),
        "window_end": pending.window_end.isoformat(),
        "status": pending.status,
        "booking": pending.booking_id,
        "created_at": pending.created_at.isoformat(),
        "reason": pending.reason,
        "day_start": pending.day_start.strftime("%H:%M") if pending.day_start else None,
        "day_end": pending.day_end.strftime("%H:%M") if pending.day_end else None,
    }


class MatchCriteriaSerializer(BodySerializer):
    skill = serializers.SlugField()
    window_start = MomentField()
    window_end = MomentField()
    day_start = serializers.TimeField(
        required=False,
        allow_null=True,
        help_text="Only slots from this time of day on (your zone, every day); with day_end.",
    )
    day_end = serializers.TimeField(
        required=False,
        allow_null=True,
        help_text="Only slots ending by this time of day; before day_start runs past midnight.",
    )


class MatchProposalSerializer(serializers.Serializer):
    slot = serializers.IntegerField()
    teacher = UserRefSerializer()
    skill = SkillRefSerializer()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    minutes = serializers.IntegerField()
    price = serializers.IntegerField(help_text="Credits it would hold.")


def match_proposal_payload(proposal: matching.MatchProposal) -> dict:
    slot = proposal.slot
    return {
        "slot": slot.pk,
        "teacher": {"id": proposal.teacher.pk, "username": proposal.teacher.username},
        "skill": {"slug": proposal.skill.slug, "name": proposal.skill.name},
        "start": slot.start.isoformat(),
        "end": slot.end.isoformat(),
        "minutes": proposal.minutes,
        "price": proposal.price,
    }


class MatchProposeApi(UserZoneMixin, APIView):
    @extend_schema(
        request=MatchCriteriaSerializer,
        responses={
            200: inline_serializer(
                "Proposal",
                {
                    "status": serializers.ChoiceField(choices=["proposed", "none"]),
                    "proposal": MatchProposalSerializer(allow_null=True),
                    "reason": serializers.CharField(),
                },
            ),
            400: ErrorSerializer,
            403: ErrorSerializer,
        },
        summary="The slot a match would book now, without booking it (book it with POST /api/bookings/)",
    )
    def post(self, request):
        data = MatchCriteriaSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        found = matching.match_propose(
            learner=request.user,
            skill_slug=d["skill"],
            window_start=d["window_start"],
            window_end=d["window_end"],
            day_start=d.get("day_start"),
            day_end=d.get("day_end"),
        )
        if found.proposal is None:
            return Response({"status": "none", "proposal": None, "reason": found.reason})
        return Response(
            {"status": "proposed", "proposal": match_proposal_payload(found.proposal), "reason": ""}
        )


class MatchApi(UserZoneMixin, APIView):
    class MatchCreateSerializer(MatchCriteriaSerializer):
        message = serializers.CharField(required=False, allow_blank=True, max_length=1000)

    @extend_schema(
        request=MatchCreateSerializer,
        responses={
            201: inline_serializer(
                "Matched", {"status": serializers.CharField(), "booking": BookingSerializer()}
            ),
            202: inline_serializer(
                "Pending",
                {"status": serializers.CharField(), "request": MatchRequestSerializer()},
            ),
            400: ErrorSerializer,
            402: ErrorSerializer,
            403: ErrorSerializer,
            409: ErrorSerializer,
        },
        summary="Book the best open slot for a skill in a window, or queue the request",
    )
    def post(self, request):
        data = self.MatchCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        outcome, result = matching.match_request(
            learner=request.user,
            skill_slug=d["skill"],
            window_start=d["window_start"],
            window_end=d["window_end"],
            message=d.get("message", ""),
            day_start=d.get("day_start"),
            day_end=d.get("day_end"),
        )
        if outcome == "matched":
            return Response(
                {"status": "matched", "booking": booking_payload(result, viewer=request.user)},
                status=status.HTTP_201_CREATED,
            )
        return Response(
            {"status": "pending", "request": match_request_payload(result)},
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(responses={200: MatchRequestSerializer(many=True)}, summary="My match requests")
    def get(self, request):
        items = selectors.match_requests_for_user(user=request.user)
        return Response([match_request_payload(m) for m in items])


class MatchDetailApi(APIView):
    @extend_schema(
        responses={200: MatchRequestSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
        summary="Cancel my pending match request",
    )
    def delete(self, request, request_id: int):
        pending = matching.match_request_cancel(learner=request.user, request_id=request_id)
        return Response(match_request_payload(pending))


# --- Plan ----------------------------------------------------------------------------


class PlanSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["free", "premium"])
    expires_at = serializers.DateTimeField(allow_null=True)
    bookings_used = serializers.IntegerField()
    bookings_limit = serializers.IntegerField(allow_null=True)
    window_days = serializers.IntegerField()
    next_free_at = serializers.DateTimeField(allow_null=True)


class SubscriptionApi(UserZoneMixin, APIView):
    @extend_schema(responses={200: PlanSerializer}, summary="My plan and free-plan usage")
    def get(self, request):
        return Response(PlanSerializer(plan_summary(user=request.user)).data)


class SubscriptionUpgradeApi(UserZoneMixin, APIView):
    @extend_schema(
        request=None,
        responses={200: PlanSerializer, 402: ErrorSerializer},
        summary="Upgrade to premium for 30 days (extends a running premium)",
    )
    def post(self, request):
        user = subscription_upgrade(user=request.user)
        return Response(PlanSerializer(plan_summary(user=user)).data)


# --- Rating ----------------------------------------------------------------------------


class RatingApi(APIView):
    class RatingInputSerializer(BodySerializer):
        stars = serializers.IntegerField(min_value=1, max_value=5)
        feedback = serializers.CharField(required=False, allow_blank=True, max_length=2000)

    class RatingOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        booking = serializers.IntegerField(source="booking_id")
        teacher = serializers.IntegerField(source="teacher_id")
        stars = serializers.IntegerField()
        feedback = serializers.CharField()
        created_at = serializers.DateTimeField()

    @extend_schema(
        request=RatingInputSerializer,
        responses={
            201: RatingOutputSerializer,
            400: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
        summary="Rate a completed session (its learner, once)",
    )
    def post(self, request, booking_id: int):
        data = self.RatingInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rating = transitions.booking_rate(
            booking_id=booking_id,
            learner=request.user,
            stars=data.validated_data["stars"],
            feedback=data.validated_data.get("feedback", ""),
        )
        return Response(self.RatingOutputSerializer(rating).data, status=status.HTTP_201_CREATED)
