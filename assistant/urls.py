from assistant.views import urlpatterns as page_urlpatterns

app_name = "assistant"

urlpatterns = page_urlpatterns
