from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import views as account_views
from skilllink import views

urlpatterns = [
    path("", account_views.home, name="home"),
    path("", include("skilllink.wiring.urls")),
    path("", include("accounts.urls")),
    path("", include("meetings.urls")),
    path("", include("scheduling.urls")),
    path("", include("credits.urls")),
    path("", include("assistant.urls")),
    path("admin/", admin.site.urls),
    path("api/", include("accounts.api_urls")),
    path("api/", include("scheduling.api_urls")),
    path("api/", include("meetings.api_urls")),
    path("api/", include("credits.api_urls")),
    path("api/", include("assistant.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("healthz/", views.health, name="health"),
]

# Uploaded photos: the app serves them itself only in development (static() adds nothing
# with DEBUG off); in production the proxy serves MEDIA_ROOT at MEDIA_URL.
urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
# Django admin carries the product's name (staff see SkillLink, not "Django administration").
admin.site.site_header = "SkillLink administration"
admin.site.site_title = "SkillLink admin"
admin.site.index_title = "Run SkillLink: people, sessions, credits"

handler404 = "skilllink.views.page_not_found"
handler500 = "skilllink.views.server_error"
handler403 = "skilllink.views.permission_denied"
