from django.urls import path

from accounts import api

urlpatterns = [
    path("auth/register/", api.RegisterApi.as_view(), name="api-register"),
    path("auth/token/", api.TokenApi.as_view(), name="api-token"),
    path("auth/token/refresh/", api.TokenRefreshApi.as_view(), name="api-token-refresh"),
    path("auth/logout/", api.LogoutApi.as_view(), name="api-logout"),
    path("auth/verify-email/", api.EmailVerifyApi.as_view(), name="api-verify-email"),
    path("me/verify-email/", api.EmailVerifySendApi.as_view(), name="api-verify-email-send"),
    path("skills/", api.SkillSearchApi.as_view(), name="api-skills"),
    path("me/skills/", api.MySkillsApi.as_view(), name="api-my-skills"),
    path("me/skills/<slug:slug>/", api.MySkillDeleteApi.as_view(), name="api-my-skill"),
    path("notifications/", api.NotificationListApi.as_view(), name="api-notifications"),
    path(
        "notifications/unread-count/",
        api.NotificationUnreadCountApi.as_view(),
        name="api-notifications-unread-count",
    ),
    path(
        "notifications/<id:notification_id>/read/",
        api.NotificationReadApi.as_view(),
        name="api-notification-read",
    ),
    path(
        "notifications/read-all/",
        api.NotificationReadAllApi.as_view(),
        name="api-notifications-read-all",
    ),
]
