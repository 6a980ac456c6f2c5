"""REST API for accounts: registration, tokens, the current user, skills, notifications."""

from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts import credentials, email_verification, selectors, services
from accounts.models import TeacherSkill
from accounts.services import ROLES
from skilllink.api_input import BodySerializer
from skilllink.errors import ErrorSerializer
from skilllink.ratelimit import client_ip


class RegisterApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    class RegisterInputSerializer(BodySerializer):
        username = serializers.CharField(max_length=150)
        email = serializers.CharField(max_length=254)
        password = serializers.CharField(max_length=128, style={"input_type": "password"})
        role = serializers.ChoiceField(choices=sorted(ROLES))
        timezone = serializers.CharField(max_length=64, required=False, default="UTC")

    class RegisterOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        username = serializers.CharField()
        email = serializers.CharField()
        email_verified = serializers.BooleanField()
        role = serializers.CharField()
        timezone = serializers.CharField()

    @extend_schema(
        request=RegisterInputSerializer,
        responses={201: RegisterOutputSerializer, 400: ErrorSerializer, 429: ErrorSerializer},
        summary="Create an account",
        description=(
            "Mails the address a verification link; an address that already has a verified "
            "account gets a note instead, and the answer is the same. Limited per address "
            "(`REGISTER_RATE_LIMIT`): past it 429 `rate_limited`."
        ),
    )
    def post(self, request):
        services.register_limit_hit(address=client_ip(request))
        data = self.RegisterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_register(
            username=data.validated_data["username"],
            email=data.validated_data["email"],
            password=data.validated_data["password"],
            role=data.validated_data["role"],
            timezone_name=data.validated_data["timezone"],
            base_url=request.build_absolute_uri("/"),
        )
        return Response(self.RegisterOutputSerializer(user).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    post=extend_schema(
        summary="Log in: an access token (15 minutes) and a refresh token (7 days)",
        responses={
            200: inline_serializer(
                "TokenPair", {"access": serializers.CharField(), "refresh": serializers.CharField()}
            ),
            400: ErrorSerializer,
            401: ErrorSerializer,
            429: ErrorSerializer,
        },
    )
)
class TokenApi(TokenObtainPairView):
    """Exchange username and password for an access and a refresh token, within the login
    limits (429 ``rate_limited`` with ``Retry-After`` once reached; only failures count)."""

    def post(self, request, *args, **kwargs):
        username = request.data.get("username", "") if isinstance(request.data, dict) else ""
        username, address = str(username), client_ip(request)
        services.login_limits_check(username=username, address=address)
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except AuthenticationFailed:
            services.login_failure_record(username=username, address=address)
            raise
        services.login_success_record(user=serializer.user, address=address)
        return Response(serializer.validated_data, status=status.HTTP_200_OK)


@extend_schema_view(
    post=extend_schema(
        summary="A new access token and a new refresh token for a refresh token",
        description=(
            "The refresh token sent is blacklisted: each one is good once "
            "(401 `token_invalid` the second time)."
        ),
        responses={
            200: inline_serializer(
                "RefreshedTokenPair",
                {"access": serializers.CharField(), "refresh": serializers.CharField()},
            ),
            400: ErrorSerializer,
            401: ErrorSerializer,
        },
    )
)
class TokenRefreshApi(TokenRefreshView):
    pass


class LogoutApi(APIView):
    """Log a refresh token out: blacklisted, it can neither refresh nor log out again."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    class LogoutInputSerializer(BodySerializer):
        refresh = serializers.CharField(max_length=2000)

    @extend_schema(
        request=LogoutInputSerializer,
        responses={204: None, 400: ErrorSerializer, 401: ErrorSerializer},
        summary="Log out a refresh token",
        description=(
            "The refresh token is blacklisted. An access token issued from it stays valid "
            "until it expires (15 minutes); a password change revokes those too."
        ),
    )
    def post(self, request):
        data = self.LogoutInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        credentials.refresh_token_revoke(raw_token=data.validated_data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class EmailVerifyApi(APIView):
    """Confirm an email address with the token of the link mailed to it."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    class EmailVerifyInputSerializer(BodySerializer):
        token = serializers.CharField(max_length=1000)

    @extend_schema(
        request=EmailVerifyInputSerializer,
        responses={
            200: inline_serializer(
                "EmailVerified",
                {"email": serializers.CharField(), "email_verified": serializers.BooleanField()},
            ),
            400: OpenApiResponse(
                ErrorSerializer, description="`link_expired`, `link_invalid`, `invalid`."
            ),
            409: OpenApiResponse(
                ErrorSerializer, description="`email_taken`: another account verified it first."
            ),
        },
        summary="Verify my email address",
    )
    def post(self, request):
        data = self.EmailVerifyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = email_verification.email_verify(token=data.validated_data["token"])
        return Response({"email": user.email, "email_verified": user.email_verified})


class EmailVerifySendApi(APIView):
    @extend_schema(
        request=None,
        responses={202: None, 401: ErrorSerializer, 409: ErrorSerializer, 429: ErrorSerializer},
        summary="Mail me a new verification link",
        description="409 `already_verified` when it is; limited like registration (429).",
    )
    def post(self, request):
        services.email_verification_resend(
            user=request.user, base_url=request.build_absolute_uri("/")
        )
        return Response(status=status.HTTP_202_ACCEPTED)


class SkillSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()


class MySkillSerializer(serializers.Serializer):
    """One skill the current user teaches; `slug` and `name` repeat the nested `skill`'s."""

    skill = SkillSerializer()
    slug = serializers.CharField(source="skill.slug")
    name = serializers.CharField(source="skill.name")
    level = serializers.ChoiceField(choices=TeacherSkill.Level.choices)
    blurb = serializers.CharField()


class SkillSearchApi(APIView):
    """The public skill catalogue, for autocomplete and discovery filters."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    class SkillSearchFilterSerializer(serializers.Serializer):
        q = serializers.CharField(required=False, allow_blank=True, default="", max_length=80)
        limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=50)

    @extend_schema(
        parameters=[SkillSearchFilterSerializer],
        responses={200: SkillSerializer(many=True), 400: ErrorSerializer},
        summary="Search skills by name",
        description=(
            "Names containing `q` (any case): names that start with `q` first, then the "
            "rest, each group alphabetical. Without `q`, the catalogue from A. No "
            "authentication needed."
        ),
    )
    def get(self, request):
        filters = self.SkillSearchFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        skills = selectors.skill_search(
            q=filters.validated_data["q"], limit=filters.validated_data["limit"]
        )
        return Response(SkillSerializer(skills, many=True).data)


class MySkillsApi(APIView):
    class MySkillInputSerializer(BodySerializer):
        skill = serializers.CharField(
            max_length=200,
            help_text="An existing skill's name (any case) or slug, or the name of a new skill.",
        )
        level = serializers.ChoiceField(
            choices=TeacherSkill.Level.choices,
            required=False,
            default=TeacherSkill.Level.INTERMEDIATE,
        )
        blurb = serializers.CharField(max_length=280, required=False, allow_blank=True, default="")

    @extend_schema(
        responses={200: MySkillSerializer(many=True), 401: ErrorSerializer},
        summary="The skills I teach",
    )
    def get(self, request):
        teacher_skills = selectors.teacher_skill_list(teacher=request.user)
        return Response(MySkillSerializer(teacher_skills, many=True).data)

    @extend_schema(
        request=MySkillInputSerializer,
        responses={
            201: MySkillSerializer,
            400: ErrorSerializer,
            401: ErrorSerializer,
            403: OpenApiResponse(ErrorSerializer, description="`forbidden`: not a teacher."),
        },
        summary="Add a skill I teach (teachers only)",
        description=(
            "Creates the skill if it is new. Posting a skill already on the list replaces "
            "its `level` and `blurb` (omitted ones take their defaults); the answer is 201 "
            "either way."
        ),
    )
    def post(self, request):
        data = self.MySkillInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        teacher_skill = services.teacher_skill_add(
            teacher=request.user,
            skill_name_or_slug=data.validated_data["skill"],
            level=data.validated_data["level"],
            blurb=data.validated_data["blurb"],
        )
        return Response(MySkillSerializer(teacher_skill).data, status=status.HTTP_201_CREATED)


class MySkillDeleteApi(APIView):
    @extend_schema(
        responses={
            204: None,
            401: ErrorSerializer,
            403: OpenApiResponse(ErrorSerializer, description="`forbidden`: not a teacher."),
            404: OpenApiResponse(ErrorSerializer, description="`not_found`: not on my list."),
        },
        summary="Stop teaching a skill (teachers only)",
    )
    def delete(self, request, slug: str):
        services.teacher_skill_remove(teacher=request.user, slug=slug)
        return Response(status=status.HTTP_204_NO_CONTENT)


class NotificationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    title = serializers.CharField()
    body = serializers.CharField()
    url = serializers.CharField()
    created_at = serializers.DateTimeField()
    read = serializers.BooleanField()


class NotificationListApi(APIView):
    class NotificationFilterSerializer(serializers.Serializer):
        unread = serializers.BooleanField(required=False, default=False)
        limit = serializers.IntegerField(required=False, default=50, min_value=1, max_value=200)

    @extend_schema(
        parameters=[NotificationFilterSerializer],
        responses={200: NotificationSerializer(many=True)},
        summary="My notifications, newest first",
    )
    def get(self, request):
        filters = self.NotificationFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        notifications = selectors.notification_list(
            user=request.user,
            unread_only=filters.validated_data["unread"],
            limit=filters.validated_data["limit"],
        )
        return Response(NotificationSerializer(notifications, many=True).data)


class NotificationUnreadCountApi(APIView):
    @extend_schema(
        responses={200: inline_serializer("UnreadCount", {"count": serializers.IntegerField()})},
        summary="How many of my notifications are unread",
    )
    def get(self, request):
        return Response({"count": selectors.notification_unread_count(user=request.user)})


class NotificationReadApi(APIView):
    @extend_schema(
        request=None,
        responses={200: NotificationSerializer, 404: ErrorSerializer},
        summary="Mark one notification read",
    )
    def post(self, request, notification_id: int):
        notification = services.notification_mark_read(
            user=request.user, notification_id=notification_id
        )
        return Response(NotificationSerializer(notification).data)


class NotificationReadAllApi(APIView):
    @extend_schema(
        request=None,
        responses={200: inline_serializer("ReadAll", {"marked": serializers.IntegerField()})},
        summary="Mark all my notifications read",
    )
    def post(self, request):
        return Response({"marked": services.notification_mark_all_read(user=request.user)})
