from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("accounts/register/", views.register, name="register"),
    path("accounts/login/", views.SkillLinkLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/profile/", views.profile, name="profile"),
    path("accounts/email/verify/<str:token>/", views.email_verify, name="email_verify"),
    path("accounts/email/verify-send/", views.email_verify_send, name="email_verify_send"),
    path("accounts/photo/", views.photo_upload, name="photo_upload"),
    path("questions/<id:question_id>/", views.question_detail, name="question_detail"),
    path("accounts/skills/add/", views.skill_add, name="skill_add"),
    path("accounts/skills/<slug:slug>/remove/", views.skill_remove, name="skill_remove"),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(
            template_name="accounts/password_change.html",
            success_url=reverse_lazy("accounts:password_changed"),
        ),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(template_name="accounts/password_changed.html"),
        name="password_changed",
    ),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/read-all/", views.notifications_read_all, name="notifications_read_all"),
]
