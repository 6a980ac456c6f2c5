"""Site-wide promises: settings safety, API docs served locally, admin, demo data."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from accounts.models import Skill, TeacherSkill, User
from accounts.services import notification_send

ROOT = Path(__file__).resolve().parent.parent


def _settings_in_subprocess(env: dict[str, str], expr: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}}
    code = f"import skilllink.settings as s; print({expr})"
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = _settings_in_subprocess({"DEBUG": "0"}, "s.SECRET_KEY")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_defaults_are_secure():
    result = _settings_in_subprocess(
        {"DEBUG": "0", "SECRET_KEY": "x" * 50},
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, "
        "s.SECURE_HSTS_SECONDS, s.ALLOWED_HOSTS, s.DEBUG",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True True True 31536000 [] False"


def test_redis_url_selects_pubsub_layer_with_a_sized_pool():
    result = _settings_in_subprocess(
        {"DEBUG": "1", "REDIS_URL": "redis://127.0.0.1:6379/0", "REDIS_MAX_CONNECTIONS": "777"},
        "s.CHANNEL_LAYERS['default']['BACKEND'], "
        "s.CHANNEL_LAYERS['default']['CONFIG']['hosts'][0]['max_connections'], "
        "s.CACHES['default']['BACKEND']",
    )
    assert result.stdout.split() == [
        "skilllink.channel_layer.RedisPubSubChannelLayer",
        "777",
        "django.core.cache.backends.redis.RedisCache",
    ]


def test_without_redis_the_in_memory_layer_is_used():
    result = _settings_in_subprocess(
        {"DEBUG": "1", "REDIS_URL": ""}, "s.CHANNEL_LAYERS['default']['BACKEND']"
    )
    assert result.stdout.strip() == "channels.layers.InMemoryChannelLayer"


def test_postgres_url_is_parsed():
    from skilllink.settings import database_from_url

    db = database_from_url("postgres://app:s%40cret@db.internal:6543/skill?sslmode=require")
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "app",
        "s@cret",
        "db.internal",
        "6543",
        "skill",
    )
    assert db["OPTIONS"] == {
        "sslmode": "require",
        "pool": {"min_size": 1, "max_size": 10, "timeout": 5.0},
        "connect_timeout": 5,
    }
    assert db["CONN_MAX_AGE"] == 0  # the pool keeps the connections
    # The pool checks a connection before handing it out: a database restart needs no
    # server restart.
    assert db["CONN_HEALTH_CHECKS"] is True


def test_the_postgres_pool_can_be_turned_off(monkeypatch):
    from skilllink.settings import database_from_url

    monkeypatch.setenv("DATABASE_POOL_MAX_SIZE", "0")
    monkeypatch.setenv("DATABASE_CONN_MAX_AGE", "60")
    db = database_from_url("postgres://app@db.internal/skill")
    assert "pool" not in db["OPTIONS"] and db["CONN_MAX_AGE"] == 60


@pytest.mark.django_db
def test_api_schema_and_docs_are_served_with_local_assets(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in ["/api/auth/register/", "/api/auth/token/", "/api/me/", "/api/notifications/"]:
        assert path in text
    docs = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in docs
    external = [u for u in re.findall(r'(?:src|href)="([^"]+)"', docs) if "//" in u]
    assert external == []


def test_no_page_or_script_loads_anything_from_another_host():
    pattern = re.compile(r"""(?:src|href)=["'](?:https?:)?//""")
    offenders = []
    for folder in ["templates", "static"]:
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".html", ".js", ".css"} and pattern.search(path.read_text()):
                offenders.append(str(path))
    assert offenders == []


@pytest.mark.django_db
def test_every_model_has_a_working_admin_changelist_and_change_page(admin_client):
    from django.apps import apps
    from django.contrib import admin

    from scheduling.services.bookings import booking_request
    from tests.factories import make_learner, make_slot, make_teacher_with_skills

    teacher = make_teacher_with_skills("Chess")
    notification_send(user=teacher, kind="t", title="Hi")
    booking_request(learner=make_learner(), slot_id=make_slot(teacher).pk)
    ours = [
        model
        for model in apps.get_models()
        if model._meta.app_label in {"accounts", "scheduling", "meetings", "credits", "assistant"}
    ]
    assert {m.__name__ for m in ours} >= {"User", "Skill", "Booking", "AvailabilitySlot", "Rating"}
    for model in ours:
        assert admin.site.is_registered(model), model
        meta = model._meta
        url = f"/admin/{meta.app_label}/{meta.model_name}/"
        assert admin_client.get(url).status_code == 200, url
        assert admin_client.get(url, {"q": "a"}).status_code == 200, url
        first = model.objects.first()
        if first is not None:
            assert admin_client.get(f"{url}{first.pk}/change/").status_code == 200, url


@pytest.mark.django_db
def test_seed_demo_is_idempotent(settings, capsys):
    settings.DEBUG = True
    call_command("seed_demo")
    counts = (User.objects.count(), Skill.objects.count(), TeacherSkill.objects.count())
    call_command("seed_demo")
    assert (User.objects.count(), Skill.objects.count(), TeacherSkill.objects.count()) == counts
    out = capsys.readouterr().out
    assert "skilllink-demo-2026" in out
    ada = User.objects.get(username="ada")
    assert ada.is_teacher and ada.check_password("skilllink-demo-2026")
    assert User.objects.get(username="admin").is_superuser


@pytest.mark.django_db
def test_seed_demo_refuses_in_production(settings):
    from django.core.management.base import CommandError

    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("seed_demo")
    assert not User.objects.exists()


@pytest.mark.django_db
def test_health(client):
    response = client.get("/healthz/")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "cache": "ok",
        "channel_layer": "ok",
    }
