"""REST API for the assistant: ask a question (optionally about one of your sessions),
and read your quota."""

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from assistant import client, selectors
from assistant.services import exchange_ask
from skilllink.api_input import BodySerializer, IdField
from skilllink.errors import ErrorSerializer


class QuotaSerializer(serializers.Serializer):
    used = serializers.IntegerField()
    limit = serializers.IntegerField()
    remaining = serializers.IntegerField()
    resets_at = serializers.DateTimeField(help_text="The next midnight in your time zone.")


class AssistantStatusApi(APIView):
    class StatusSerializer(serializers.Serializer):
        configured = serializers.BooleanField()
        model = serializers.CharField(allow_null=True)
        max_prompt_chars = serializers.IntegerField()
        quota = QuotaSerializer()

    @extend_schema(
        responses={200: StatusSerializer},
        summary="Whether the assistant is configured, and your daily quota",
    )
    def get(self, request):
        configured = client.configured()
        return Response(
            {
                "configured": configured,
                "model": settings.GEMINI_MODEL if configured else None,
                "max_prompt_chars": settings.ASSISTANT_MAX_PROMPT_CHARS,
                "quota": selectors.quota_for(user=request.user).payload(),
            }
        )


class AssistantAskApi(APIView):
    class AskSerializer(BodySerializer):
        prompt = serializers.CharField(allow_blank=True, trim_whitespace=False)
        booking = IdField(
            required=False, allow_null=True, help_text="One of your sessions, as context."
        )
        include_chat = serializers.BooleanField(
            required=False,
            default=False,
            help_text="With `booking`: quote the session's recent chat to the model.",
        )

    class AnswerSerializer(serializers.Serializer):
        id = serializers.IntegerField(source="request_id")
        booking = serializers.IntegerField(allow_null=True)
        prompt = serializers.CharField()
        markdown = serializers.CharField()
        html = serializers.CharField(help_text="Rendered on the server and sanitized.")
        truncated = serializers.BooleanField(help_text="Cut at the output length limit.")
        model = serializers.CharField()
        created_at = serializers.DateTimeField()
        total_ms = serializers.IntegerField(allow_null=True)

    @extend_schema(
        request=AskSerializer,
        responses={
            200: AnswerSerializer,
            400: OpenApiResponse(ErrorSerializer, description="`invalid`: empty or too long."),
            404: OpenApiResponse(ErrorSerializer, description="Not one of your sessions."),
            409: OpenApiResponse(
                ErrorSerializer,
                description="`assistant_in_progress`: an answer is streaming in that session.",
            ),
            429: OpenApiResponse(
                ErrorSerializer,
                description="`rate_limited`: daily quota used up (`Retry-After`: seconds "
                "until it resets).",
            ),
            502: OpenApiResponse(
                ErrorSerializer,
                description="`assistant_upstream_error`, `assistant_no_answer`.",
            ),
            503: OpenApiResponse(
                ErrorSerializer,
                description="`assistant_unavailable` (not configured), `assistant_overloaded`.",
            ),
            504: OpenApiResponse(ErrorSerializer, description="`assistant_timeout`."),
        },
        summary="Ask the assistant and wait for the whole answer (Markdown and safe HTML)",
    )
    def post(self, request):
        client.require_configured()  # 503 before anything else: nothing pretends to answer
        data = self.AskSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        exchange = exchange_ask(
            user=request.user,
            prompt=data.validated_data["prompt"],
            booking_id=data.validated_data.get("booking"),
            include_chat=data.validated_data["include_chat"],
        )
        return Response(self.AnswerSerializer(selectors.exchange_payload(exchange)).data)
