"""HTML pages for scheduling, one module per area; each module exports ``urlpatterns``."""
