"""REST API for meetings: a session's chat history."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from meetings.selectors import chat_history
from scheduling.transitions import booking_get_for_user
from skilllink.errors import ErrorSerializer


class ChatMessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sender = serializers.IntegerField()
    sender_name = serializers.CharField()
    text = serializers.CharField()
    sent_at = serializers.DateTimeField()


class BookingMessagesApi(APIView):
    @extend_schema(
        responses={200: ChatMessageSerializer(many=True), 404: ErrorSerializer},
        summary="A session's chat, oldest first (participants only; the last 500 messages)",
    )
    def get(self, request, booking_id: int):
        booking = booking_get_for_user(user=request.user, booking_id=booking_id)
        return Response(chat_history(booking_id=booking.pk))
