"""Browser security headers that Django does not set itself (core: imports no app).

``Permissions-Policy``: no page may use the camera, the microphone or screen capture
(nor the other powerful features below) except the views wrapped in
:func:`allows_media` — the meeting room and its waiting room, where people test their
devices and call each other. A script injected into any other page cannot open them.
The Content-Security-Policy itself comes from django-csp (``CONTENT_SECURITY_POLICY``
in settings).
"""

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse

MEDIA_FEATURES = ("camera", "microphone", "display-capture")
# Features no page of ours uses: denied everywhere.
UNUSED_FEATURES = (
    "geolocation",
    "payment",
    "usb",
    "serial",
    "hid",
    "bluetooth",
    "midi",
    "magnetometer",
    "gyroscope",
    "accelerometer",
)


def permissions_policy(*, media: bool) -> str:
    """The header value: media features for this origin only when ``media``, else none."""
    allowed = "(self)" if media else "()"
    parts = [f"{feature}={allowed}" for feature in MEDIA_FEATURES]
    parts += [f"{feature}=()" for feature in UNUSED_FEATURES]
    return ", ".join(parts)


def allows_media(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Let the page ``view`` renders use camera, microphone and screen capture."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response.headers["Permissions-Policy"] = permissions_policy(media=True)
        return response

    return wrapped


class PermissionsPolicyMiddleware:
    """Every response denies the media features unless its view allowed them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.default = permissions_policy(media=False)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", self.default)
        return response
