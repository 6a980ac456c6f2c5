from meetings.views import urlpatterns as room_urlpatterns

app_name = "meetings"

urlpatterns = room_urlpatterns
