"""SkillLink settings.

Everything configurable is read from the environment in the block below, with
defaults that run on a bare laptop (SQLite, in-memory channel layer). With
``DEBUG`` off the defaults are the safe production ones and ``SECRET_KEY`` must
be given.
"""

import os
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()


def database_from_url(url: str) -> dict:
    """A DATABASES entry from ``sqlite:///path`` or ``postgres://user:pw@host:port/name``
    (django-environ parses it; SkillLink adds its per-engine options)."""
    config = env.db_url_config(url)
    engine = config["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        # sqlite:///relative.db is relative to the project; four slashes mean absolute.
        name = Path(config["NAME"])
        config["NAME"] = str(name if name.is_absolute() else BASE_DIR / name)
        # A file (not :memory:) so the browser tests' server process shares it;
        # one per test process so parallel runs in one checkout do not collide.
        config["TEST"] = {"NAME": str(BASE_DIR / f"test-db-{os.getpid()}.sqlite3")}
        config["OPTIONS"] = {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            # Write-ahead log: readers never wait for the writer, and a commit appends to
            # the log instead of syncing the database file twice (NORMAL: durable but for
            # a power cut, never corrupt). Measured: bench/results-ledger.md.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        return config
    if engine == "django.db.backends.postgresql":
        options = dict(config.get("OPTIONS", {}))
        # A connection pool per process (psycopg_pool): under ASGI each request's sync
        # code runs on a fresh thread, so per-thread persistent connections are never
        # reused and every request would otherwise pay for a new connection.
        pool_size = env.int("DATABASE_POOL_MAX_SIZE", default=10)
        if pool_size > 0:
            # timeout: how long a request waits for a connection, also while the database
            # is down (then it answers 503: skilllink.outages).
            options["pool"] = {
                "min_size": 1,
                "max_size": pool_size,
                "timeout": env.float("DATABASE_POOL_TIMEOUT", default=5.0),
            }
        # An unreachable host fails within seconds, not the system's TCP timeout.
        options.setdefault("connect_timeout", 5)
        config.update(
            NAME=config["NAME"] or "skilllink",
            PORT=str(config["PORT"] or ""),
            # With the pool, connections return to it after each request (Django
            # requires 0 then); without it, DATABASE_CONN_MAX_AGE keeps them per thread.
            CONN_MAX_AGE=0 if pool_size > 0 else env.int("DATABASE_CONN_MAX_AGE", default=0),
            # A connection broken by a database restart is noticed before use (the pool
            # checks each one it hands out), so recovery needs no server restart.
            CONN_HEALTH_CHECKS=True,
            # One test database per test process (parallel runs in one checkout).
            TEST={"NAME": f"test_{config['NAME'] or 'skilllink'}_{os.getpid()}"},
            OPTIONS=options,
        )
        return config
    raise ImproperlyConfigured(f"DATABASE_URL engine {engine!r} is not supported.")


# --- Environment (every setting the deployment chooses, read here and only here; the
# server launcher skilllink/serve.py reads its own HOST, PORT, WEB_CONCURRENCY,
# ACCESS_LOG, FORWARDED_ALLOW_IPS, HTTP_HEADER_TIMEOUT and HTTP_BODY_TIMEOUT) ------
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
DATABASE_URL = env.str("DATABASE_URL", default="sqlite:///db.sqlite3")
REDIS_URL = env.str("REDIS_URL", default="")
# Pub/sub publishes borrow a pooled connection each; redis-py's default cap (100)
# fails sends at a few hundred sockets (stack-notes.md), so the cap is explicit.
REDIS_MAX_CONNECTIONS = env.int("REDIS_MAX_CONNECTIONS", default=1000)
# Pub/sub channels ignore the Redis db number: deployments (or test runs) sharing
# one Redis need distinct prefixes.
REDIS_PREFIX = env.str("REDIS_PREFIX", default="skilllink")
GEMINI_API_KEY = env.str("GEMINI_API_KEY", default="")
GEMINI_MODEL = env.str("GEMINI_MODEL", default="gemini-2.5-flash")
GEMINI_BASE_URL = env.str("GEMINI_BASE_URL", default="")
GEMINI_TIMEOUT_SECONDS = env.float("GEMINI_TIMEOUT_SECONDS", default=30.0)
# The assistant's limits: questions per user per day (their local day), free and premium;
# prompt size; the answer's length; how many recent chat lines "include chat" quotes.
ASSISTANT_DAILY_PROMPTS = env.int("ASSISTANT_DAILY_PROMPTS", default=20)
ASSISTANT_DAILY_PROMPTS_PREMIUM = env.int("ASSISTANT_DAILY_PROMPTS_PREMIUM", default=200)
ASSISTANT_MAX_PROMPT_CHARS = env.int("ASSISTANT_MAX_PROMPT_CHARS", default=4000)
ASSISTANT_MAX_OUTPUT_TOKENS = env.int("ASSISTANT_MAX_OUTPUT_TOKENS", default=2048)
ASSISTANT_CHAT_CONTEXT_MESSAGES = env.int("ASSISTANT_CHAT_CONTEXT_MESSAGES", default=20)
SKILLLINK_ICE_SERVERS = env.json(
    "SKILLLINK_ICE_SERVERS", default=[{"urls": ["stun:stun.l.google.com:19302"]}]
)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
TRUST_X_FORWARDED_PROTO = env.bool("TRUST_X_FORWARDED_PROTO", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
# Failed logins / seconds: per account and address; per address; per account from anywhere
# (past which unknown addresses get one try per LOGIN_FLOOD_INTERVAL seconds).
LOGIN_RATE_LIMIT = env.str("LOGIN_RATE_LIMIT", default="5/1800")
LOGIN_ADDRESS_RATE_LIMIT = env.str("LOGIN_ADDRESS_RATE_LIMIT", default="50/1800")
LOGIN_ACCOUNT_FLOOD = env.str("LOGIN_ACCOUNT_FLOOD", default="20/1800")
LOGIN_FLOOD_INTERVAL = env.int("LOGIN_FLOOD_INTERVAL", default=60)
# Registrations per address per window (seconds), page and API alike.
REGISTER_RATE_LIMIT = env.str("REGISTER_RATE_LIMIT", default="10/3600")
# JWT lifetimes (seconds): access tokens (sockets opened with one close when it expires)
# and refresh tokens (each used once: a refresh answers a new one).
ACCESS_TOKEN_LIFETIME = env.int("ACCESS_TOKEN_LIFETIME", default=15 * 60)
REFRESH_TOKEN_LIFETIME = env.int("REFRESH_TOKEN_LIFETIME", default=7 * 24 * 3600)
# Outgoing mail (email verification): the console with DEBUG on unless EMAIL_URL is set,
# else SMTP from EMAIL_URL (smtp://user:password@host:587, smtp+tls://..., smtp+ssl://...).
EMAIL_URL = env.str("EMAIL_URL", default="")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="SkillLink <no-reply@localhost>")
# How long an email verification link stays valid (seconds).
EMAIL_VERIFICATION_MAX_AGE = env.int("EMAIL_VERIFICATION_MAX_AGE", default=3 * 24 * 3600)
CHAT_RATE_LIMIT = env.str("CHAT_RATE_LIMIT", default="20/10")  # messages / seconds per user
# A socket whose client reads nothing for this long is closed (skilllink/sockets.py).
SOCKET_SEND_TIMEOUT = env.float("SOCKET_SEND_TIMEOUT", default=10.0)
# What the Redis layer holds for one socket that is not keeping up; past it the socket is
# closed (4008) and the page reconnects and catches up (skilllink/channel_layer.py).
SOCKET_INBOX_BYTES = env.int("SOCKET_INBOX_BYTES", default=4 * 1024 * 1024)
# What one socket may send (token buckets, "frames/seconds": a window's worth at once, then
# its average; skilllink/sockets.py): WebRTC signaling (ICE candidates come in bursts), and
# every other frame (chat, assistant, ping). One frame's size: an SDP offer or answer, an
# ICE candidate. Past SOCKET_REFUSALS refused frames the socket is closed (4429).
SOCKET_SIGNAL_RATE = env.str("SOCKET_SIGNAL_RATE", default="100/10")
SOCKET_FRAME_RATE = env.str("SOCKET_FRAME_RATE", default="30/10")
SOCKET_SIGNAL_SDP_BYTES = env.int("SOCKET_SIGNAL_SDP_BYTES", default=16 * 1024)
SOCKET_SIGNAL_CANDIDATE_BYTES = env.int("SOCKET_SIGNAL_CANDIDATE_BYTES", default=1024)
SOCKET_REFUSALS = env.str("SOCKET_REFUSALS", default="20/10")
# Open sockets per client address (counted in the cache, so across processes with Redis);
# 0 turns the cap off.
SOCKETS_PER_ADDRESS = env.int("SOCKETS_PER_ADDRESS", default=50)
# Without Redis, the periodic jobs must run in the server process to reach its sockets.
SWEEP_IN_PROCESS = env.bool("SKILLLINK_SWEEP_IN_PROCESS", default=not REDIS_URL)
SWEEP_INTERVAL_SECONDS = env.float("SKILLLINK_SWEEP_INTERVAL", default=15.0)
# A session's room opens this many minutes before its start and closes this many after
# its end (then an unfinished session completes by itself).
ROOM_OPENS_MINUTES = env.int("ROOM_OPENS_MINUTES", default=10)
ROOM_GRACE_MINUTES = env.int("ROOM_GRACE_MINUTES", default=15)
# How far ahead slots, weekly repeats and match windows may reach.
BOOKING_HORIZON_DAYS = env.int("BOOKING_HORIZON_DAYS", default=365)
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
# Credits: a session costs this many credits per booked minute; every new account is
# granted CREDITS_SIGNUP_GRANT credits by the platform.
CREDITS_PER_MINUTE = env.int("CREDITS_PER_MINUTE", default=1)
CREDITS_SIGNUP_GRANT = env.int("CREDITS_SIGNUP_GRANT", default=120)
# Uploaded files (teachers' photos): where they are written and the URL they are served
# from. With DEBUG on the app serves MEDIA_URL itself; in production the proxy does.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
MEDIA_URL = env.str("MEDIA_URL", default="/media/")
# A photo upload larger than this is refused before Pillow reads it; the stored photo is
# a square of PHOTO_SIZE pixels.
PHOTO_MAX_BYTES = env.int("PHOTO_MAX_BYTES", default=5 * 1024 * 1024)
PHOTO_SIZE = env.int("PHOTO_SIZE", default=320)
# Questions a learner may send teachers before booking (hits / seconds).
QUESTION_RATE_LIMIT = env.str("QUESTION_RATE_LIMIT", default="5/3600")
# What premium costs, shown on the plans page and passed to the (simulated) payment.
PREMIUM_PRICE = env.str("PREMIUM_PRICE", default="9.00")
PREMIUM_CURRENCY = env.str("PREMIUM_CURRENCY", default="EUR")
# -----------------------------------------------------------------------------

if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-only-used-when-DEBUG-is-on"
if CREDITS_PER_MINUTE < 0 or CREDITS_SIGNUP_GRANT < 0:
    raise ImproperlyConfigured("CREDITS_PER_MINUTE and CREDITS_SIGNUP_GRANT cannot be negative.")
if not isinstance(SKILLLINK_ICE_SERVERS, list):
    raise ImproperlyConfigured("SKILLLINK_ICE_SERVERS must be a JSON list.")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "rest_framework_simplejwt.token_blacklist",
    "skilllink",
    "accounts",
    "scheduling",
    "meetings",
    "credits",
    "assistant",
]

MIDDLEWARE = [
    # Outermost: a request that failed because the database is down answers 503.
    "skilllink.outages.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "skilllink.security.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.ViewerTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "skilllink.urls"
ASGI_APPLICATION = "skilllink.asgi.application"
WSGI_APPLICATION = "skilllink.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.shell",
                "skilllink.context_processors.site_settings",
                "skilllink.wiring.context_processors.header",
                "csp.context_processors.nonce",
            ],
        },
    },
]

DATABASES = {"default": database_from_url(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
# Our own English formats: a date and time rendered without an explicit format (Django
# admin's lists and read-only fields) names its time zone ("Dec. 3, 2026, 14:00 CET").
FORMAT_MODULE_PATH = ["skilllink.formats"]
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # npm packages pinned in package.json, served as /static/vendor/<name>/...
    ("vendor/fullcalendar", BASE_DIR / "node_modules" / "fullcalendar"),
    ("vendor/fullcalendar-luxon3", BASE_DIR / "node_modules" / "@fullcalendar" / "luxon3"),
    ("vendor/luxon", BASE_DIR / "node_modules" / "luxon" / "build" / "global"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

if REDIS_URL:
    # Pub/sub layer: no per-channel capacity to silently drop group messages, and
    # the only configuration that held 200 rooms at 10 msg/s here (stack-notes.md).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "skilllink.channel_layer.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "max_connections": REDIS_MAX_CONNECTIONS}],
                "prefix": REDIS_PREFIX,
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REDIS_PREFIX,
            # While Redis is unreachable, cache calls fail fast and the rate limits let
            # requests through (skilllink.ratelimit) instead of holding a worker.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "skilllink.jwt_auth.RevocableJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["skilllink.api_input.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "skilllink.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "skilllink.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append(
        "rest_framework.renderers.BrowsableAPIRenderer"
    )

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=ACCESS_TOKEN_LIFETIME),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=REFRESH_TOKEN_LIFETIME),
    # HS256 only: skilllink.jwt_auth also refuses any token whose header names another.
    "ALGORITHM": "HS256",
    "SIGNING_KEY": SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": True,
    # A refresh token is good once: refreshing answers a new one and blacklists the old.
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "TOKEN_OBTAIN_SERIALIZER": "skilllink.jwt_auth.TokenObtainPairSerializer",
    "TOKEN_REFRESH_SERIALIZER": "skilllink.jwt_auth.TokenRefreshSerializer",
}

if EMAIL_URL:
    globals().update(env.email_url_config(EMAIL_URL))
elif DEBUG:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
else:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"

SPECTACULAR_SETTINGS = {
    "TITLE": "SkillLink API",
    "DESCRIPTION": (
        "Live one-to-one skill exchange. Errors are JSON objects "
        '`{"code", "detail"}` (plus `fields` for validation errors).'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# Security defaults: strict in production, relaxed only with DEBUG on.
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
# Asks browsers' preload lists to hard-code HTTPS for the domain and its subdomains: set
# SECURE_HSTS_PRELOAD=0 where a subdomain must stay reachable over plain HTTP.
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0 and env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): scripts and styles only from our own static files
# (no 'unsafe-inline', no eval); the one exception is the per-request nonce on the empty
# <style data-fullcalendar> element FullCalendar fills through the CSSOM. Images may be
# data:/blob: URLs (Swagger UI's icons, a photo's preview before upload). Sockets go to
# this origin ('self' covers ws:/wss: of the same host). Nothing may frame our pages.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:", "blob:"],
        "media-src": [SELF, "blob:"],
        "font-src": [SELF, "data:"],  # FullCalendar's icon font is a data: URL
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "frame-src": [NONE],
        "worker-src": [SELF],
        "manifest-src": [SELF],
    },
}
if TRUST_X_FORWARDED_PROTO:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Socket tokens and calendar-feed tokens never reach a log line (skilllink/log_filters.py).
    "filters": {"redact_tokens": {"()": "skilllink.log_filters.RedactTokens"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact_tokens"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.channels.server": {"level": "WARNING"},
        # The Gemini SDK's HTTP client logs every request at INFO.
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
    },
}
