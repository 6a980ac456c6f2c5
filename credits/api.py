"""REST API for credits: rating a session."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from credits.services import rating_submit
from skilllink.errors import ErrorSerializer


class RatingApi(APIView):
    class RatingInputSerializer(serializers.Serializer):
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
        rating = rating_submit(
            booking_id=booking_id,
            learner=request.user,
            stars=data.validated_data["stars"],
            feedback=data.validated_data.get("feedback", ""),
        )
        return Response(self.RatingOutputSerializer(rating).data, status=status.HTTP_201_CREATED)
