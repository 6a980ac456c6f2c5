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
        config["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
        return config
    if engine == "django.db.backends.postgresql":
        options = dict(config.get("OPTIONS", {}))
        # A connection pool per process (psycopg_pool): under ASGI each request's sync
        # code runs on a fresh thread, so per-thread persistent connections are never
        # reused and every request would otherwise pay for a new connection.
        pool_size = env.int("DATABASE_POOL_MAX_SIZE", default=10)
        if pool_size > 0:
            options["pool"] = {"min_size": 1, "max_size": pool_size, "timeout": 10}
        config.update(
            NAME=config["NAME"] or "skilllink",
            PORT=str(config["PORT"] or ""),
            # With the pool, connections return to it after each request (Django
            # requires 0 then); without it, DATABASE_CONN_MAX_AGE keeps them per thread.
            CONN_MAX_AGE=0 if pool_size > 0 else env.int("DATABASE_CONN_MAX_AGE", default=0),
            # One test database per test process (parallel runs in one checkout).
            TEST={"NAME": f"test_{config['NAME'] or 'skilllink'}_{os.getpid()}"},
            OPTIONS=options,
        )
        return config
    raise ImproperlyConfigured(f"DATABASE_URL engine {engine!r} is not supported.")


# --- Environment (every setting the deployment chooses, read here and only here; the
# server launcher skilllink/serve.py reads its own HOST, PORT, WEB_CONCURRENCY,
# ACCESS_LOG and FORWARDED_ALLOW_IPS) ----------------------------------------------
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
CHAT_RATE_LIMIT = env.str("CHAT_RATE_LIMIT", default="20/10")  # messages / seconds per user
# A socket whose client reads nothing for this long is closed (skilllink/sockets.py).
SOCKET_SEND_TIMEOUT = env.float("SOCKET_SEND_TIMEOUT", default=10.0)
# What the Redis layer holds for one socket that is not keeping up; past it the socket is
# closed (4008) and the page reconnects and catches up (skilllink/channel_layer.py).
SOCKET_INBOX_BYTES = env.int("SOCKET_INBOX_BYTES", default=4 * 1024 * 1024)
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
    "skilllink",
    "accounts",
    "scheduling",
    "meetings",
    "credits",
    "assistant",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
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
STATIC_ROOT = BASE_DIR / "staticfiles"
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
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["skilllink.api_input.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "skilllink.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append(
        "rest_framework.renderers.BrowsableAPIRenderer"
    )

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=15),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=7),
    "ALGORITHM": "HS256",
    "SIGNING_KEY": SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": True,
}

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
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if TRUST_X_FORWARDED_PROTO:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.channels.server": {"level": "WARNING"},
        # The Gemini SDK's HTTP client logs every request at INFO.
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
    },
}
