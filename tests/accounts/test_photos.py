"""Teacher photos: checked, made square, re-encoded without metadata, stored in media storage."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.models import User
from accounts.services import user_photo_remove, user_photo_set, user_update_profile
from skilllink.errors import AppError
from tests.factories import make_learner, make_teacher, make_teacher_with_skills

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.PHOTO_SIZE = 64
    return tmp_path


def picture(width=400, height=300, fmt="JPEG", exif=True, mode="RGB") -> SimpleUploadedFile:
    image = Image.new(mode, (width, height), (200, 40, 40) if mode == "RGB" else None)
    out = io.BytesIO()
    options = {}
    if exif and fmt == "JPEG":
        tags = Image.Exif()
        tags[0x010F] = "SpyCam"  # Make
        tags[0x0110] = "Model 7"  # Model
        options["exif"] = tags.tobytes()
    image.save(out, fmt, **options)
    return SimpleUploadedFile(f"me.{fmt.lower()}", out.getvalue(), f"image/{fmt.lower()}")


def stored(user) -> Image.Image:
    user.refresh_from_db()
    with user.photo.open("rb") as handle:
        image = Image.open(io.BytesIO(handle.read()))
        image.load()
        return image


def test_a_photo_is_cropped_square_resized_and_stored_without_metadata(media):
    teacher = make_teacher()
    upload = picture()
    assert b"SpyCam" in upload.read()
    upload.seek(0)
    user_photo_set(user=teacher, upload=upload)
    image = stored(teacher)
    assert image.format == "JPEG"
    assert image.size == (64, 64)
    assert not image.getexif()
    assert b"SpyCam" not in (media / teacher.photo.name).read_bytes()
    assert teacher.photo.url.startswith("/media/photos/")


def test_a_transparent_png_gets_a_white_background():
    teacher = make_teacher()
    user_photo_set(user=teacher, upload=picture(fmt="PNG", mode="RGBA", exif=False))
    image = stored(teacher)
    assert image.mode == "RGB"
    assert image.getpixel((32, 32))[0] > 240  # transparent became white, not black


def test_replacing_a_photo_deletes_the_old_file(media, django_capture_on_commit_callbacks):
    teacher = make_teacher()
    with django_capture_on_commit_callbacks(execute=True):
        user_photo_set(user=teacher, upload=picture())
    first = teacher.photo.name
    with django_capture_on_commit_callbacks(execute=True):
        user_photo_set(user=teacher, upload=picture(width=300, height=500))
    assert teacher.photo.name != first
    assert not (media / first).exists()
    assert (media / teacher.photo.name).exists()
    with django_capture_on_commit_callbacks(execute=True):
        user_photo_remove(user=teacher)
    teacher.refresh_from_db()
    assert not teacher.photo
    assert list((media / "photos").iterdir()) == []


@pytest.mark.parametrize(
    "upload, code",
    [
        (
            SimpleUploadedFile("notes.txt", b"just some text, not a picture", "text/plain"),
            "photo_invalid",
        ),
        (
            SimpleUploadedFile("fake.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 200, "image/jpeg"),
            "photo_invalid",
        ),
        (SimpleUploadedFile("empty.jpg", b"", "image/jpeg"), "photo_invalid"),
        (None, "photo_invalid"),
    ],
    ids=["text", "broken-jpeg", "empty", "missing"],
)
def test_a_file_that_is_no_picture_is_refused_and_nothing_changes(upload, code, media):
    teacher = make_teacher()
    with pytest.raises(AppError) as refused:
        user_photo_set(user=teacher, upload=upload)
    assert refused.value.code == code and refused.value.status == 400
    assert "photo" in refused.value.fields
    teacher.refresh_from_db()
    assert not teacher.photo
    assert not (media / "photos").exists() or not list((media / "photos").iterdir())


def test_a_huge_image_is_refused_before_it_is_decoded():
    # A few hundred bytes of PNG that declare 10,000 x 10,000 pixels.
    image = Image.new("1", (10_000, 10_000))
    out = io.BytesIO()
    image.save(out, "PNG")
    assert len(out.getvalue()) < 100_000
    teacher = make_teacher()
    with pytest.raises(AppError, match="too large"):
        user_photo_set(user=teacher, upload=SimpleUploadedFile("bomb.png", out.getvalue()))


def test_a_file_over_the_size_limit_is_refused_unread(settings):
    settings.PHOTO_MAX_BYTES = 1000
    with pytest.raises(AppError, match="too large; 0 MB"):
        user_photo_set(user=make_teacher(), upload=picture(width=600, height=600))


def test_a_tiny_picture_is_refused():
    with pytest.raises(AppError, match="too small"):
        user_photo_set(user=make_teacher(), upload=picture(width=20, height=20))


def test_a_learner_may_not_set_a_photo():
    learner = make_learner()
    with pytest.raises(AppError) as refused:
        user_photo_set(user=learner, upload=picture())
    assert refused.value.code == "teachers_only" and refused.value.status == 403
    learner.refresh_from_db()
    assert not learner.photo


def test_the_profile_page_uploads_for_the_signed_in_teacher_only(client, media):
    teacher = make_teacher_with_skills("Python", username="shown")
    other = make_teacher(username="other")
    client.force_login(teacher)
    response = client.post("/accounts/photo/", {"photo": picture()})
    assert response.status_code == 302 and response["Location"] == "/accounts/profile/#photo"
    teacher.refresh_from_db()
    other.refresh_from_db()
    assert teacher.photo and not other.photo
    page = client.get("/teachers/shown/").content.decode()
    assert f'src="{teacher.photo.url}"' in page
    # A bad file on the page: a message, no 500, the photo kept.
    response = client.post(
        "/accounts/photo/", {"photo": SimpleUploadedFile("x.txt", b"hello")}, follow=True
    )
    assert "not a picture we can read" in response.content.decode()
    assert User.objects.get(pk=teacher.pk).photo.name == teacher.photo.name
    client.logout()
    assert client.post("/accounts/photo/", {"photo": picture()}).status_code == 302
    assert User.objects.get(pk=other.pk).photo.name == ""


def test_without_a_photo_cards_show_initials():
    teacher = make_teacher_with_skills("Python", username="zoe")
    from django.test import Client

    page = Client().get("/teachers/").content.decode()
    assert '<span class="avatar avatar-medium" aria-hidden="true">Z</span>' in page
    del teacher


@pytest.mark.parametrize(
    "headline, accepted",
    [
        ("Jazz guitar for adult beginners", True),
        ("  trimmed  ", True),
        ("line\nbreak", False),
        ("bell\x07", False),
        ("evil \u202etxt.exe", False),
        ("isolate \u2066x\u2069", False),
        ("x" * 121, False),
    ],
)
def test_the_headline_is_one_clean_line(headline, accepted):
    teacher = make_teacher()
    if accepted:
        user_update_profile(user=teacher, headline=headline)
        teacher.refresh_from_db()
        assert teacher.headline == headline.strip()
    else:
        with pytest.raises(AppError) as refused:
            user_update_profile(user=teacher, headline=headline)
        assert refused.value.fields and "headline" in refused.value.fields
        teacher.refresh_from_db()
        assert teacher.headline == ""
