"""WSGI entry point (HTTP only; real-time features need the ASGI app)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skilllink.settings")

application = get_wsgi_application()
