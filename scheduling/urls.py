from scheduling.views import calendar_pages, sessions

app_name = "scheduling"

urlpatterns = calendar_pages.urlpatterns + sessions.urlpatterns
