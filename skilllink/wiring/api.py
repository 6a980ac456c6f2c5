"""API endpoints that compose several apps: ``/api/me/``."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services as account_services
from credits.api import CreditsSummarySerializer
from credits.selectors import credits_summary
from scheduling.api import PlanSerializer
from scheduling.quota import plan_summary
from skilllink.api_input import BodySerializer
from skilllink.errors import ErrorSerializer


class MeOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.CharField()
    email_verified = serializers.BooleanField()
    role = serializers.CharField()
    is_learner = serializers.BooleanField()
    is_teacher = serializers.BooleanField()
    is_staff = serializers.BooleanField()
    timezone = serializers.CharField()
    theme = serializers.CharField()
    time_format = serializers.CharField()
    bio = serializers.CharField()
    date_joined = serializers.DateTimeField()
    credits = serializers.SerializerMethodField()
    subscription = serializers.SerializerMethodField()

    def get_credits(self, user) -> CreditsSummarySerializer:
        return CreditsSummarySerializer(credits_summary(user=user)).data

    def get_subscription(self, user) -> PlanSerializer:
        return PlanSerializer(plan_summary(user=user)).data


class MeInputSerializer(BodySerializer):
    timezone = serializers.CharField(max_length=64, required=False)
    theme = serializers.CharField(max_length=10, required=False)
    time_format = serializers.CharField(max_length=10, required=False)
    bio = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    role = serializers.CharField(max_length=10, required=False)
    email = serializers.CharField(max_length=254, required=False)


class MeApi(APIView):
    @extend_schema(
        responses={200: MeOutputSerializer, 401: ErrorSerializer}, summary="The current user"
    )
    def get(self, request):
        return Response(MeOutputSerializer(request.user).data)

    @extend_schema(
        request=MeInputSerializer,
        responses={200: MeOutputSerializer, 400: ErrorSerializer, 401: ErrorSerializer},
        summary="Change timezone, theme, time format, bio, role or email",
    )
    def patch(self, request):
        data = MeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        user = account_services.user_update_profile(
            user=request.user,
            timezone_name=fields.get("timezone"),
            theme=fields.get("theme"),
            time_format=fields.get("time_format"),
            bio=fields.get("bio"),
            role=fields.get("role"),
            email=fields.get("email"),
            base_url=request.build_absolute_uri("/"),
        )
        return Response(MeOutputSerializer(user).data)
