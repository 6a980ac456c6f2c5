from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils import timezone

from accounts.models import Notification, Skill, TeacherQuestion, TeacherSkill, User


class TeacherSkillInline(admin.TabularInline):
    model = TeacherSkill
    extra = 0
    autocomplete_fields = ["skill"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = [
        "username",
        "email",
        "is_learner",
        "is_teacher",
        "subscription_type",
        "subscription_expiry",
        "timezone",
        "is_staff",
        "date_joined",
    ]
    list_filter = ["is_learner", "is_teacher", "subscription_type", "is_staff", "is_active"]
    search_fields = ["username", "email", "first_name", "last_name", "bio"]
    ordering = ["-date_joined"]
    inlines = [TeacherSkillInline]
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (
            "SkillLink",
            {
                "fields": (
                    "is_learner",
                    "is_teacher",
                    "timezone",
                    "theme",
                    "headline",
                    "bio",
                    "photo",
                )
            },
        ),
        ("Plan", {"fields": ("subscription_type", "subscription_expiry")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        ("SkillLink", {"fields": ("email", "is_learner", "is_teacher", "timezone")}),
    )


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(TeacherSkill)
class TeacherSkillAdmin(admin.ModelAdmin):
    list_display = ["teacher", "skill", "level", "created_at"]
    list_filter = ["level", "skill"]
    search_fields = ["teacher__username", "skill__name", "blurb"]
    autocomplete_fields = ["teacher", "skill"]
    list_select_related = ["teacher", "skill"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["title", "user", "kind", "created_at", "read_at"]
    list_filter = ["kind", ("read_at", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["title", "body", "user__username"]
    date_hierarchy = "created_at"
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    actions = ["mark_read"]

    @admin.action(description="Mark selected notifications read")
    def mark_read(self, request, queryset):
        updated = queryset.filter(read_at__isnull=True).update(read_at=timezone.now())
        self.message_user(request, f"Marked {updated} notifications read.")


@admin.register(TeacherQuestion)
class TeacherQuestionAdmin(admin.ModelAdmin):
    list_display = ["learner", "teacher", "created_at", "replied_at"]
    list_filter = [("replied_at", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["body", "reply", "learner__username", "teacher__username"]
    date_hierarchy = "created_at"
    list_select_related = ["learner", "teacher"]
    raw_id_fields = ["learner", "teacher"]
