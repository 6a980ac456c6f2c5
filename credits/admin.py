from django.contrib import admin

from credits.models import Rating, TeacherRating


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
