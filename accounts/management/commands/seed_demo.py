"""Create demo accounts and skills (idempotent): run it as often as you like."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.text import slugify

from accounts.models import Skill, TeacherSkill, User

DEMO_PASSWORD = "skilllink-demo-2026"

TEACHERS = [
    {
        "username": "ada",
        "timezone": "Europe/London",
        "bio": "Software engineer who loves teaching Python from first steps to packaging.",
        "skills": [("Python", "expert"), ("SQL", "intermediate")],
    },
    {
        "username": "kenji",
        "timezone": "Asia/Tokyo",
        "bio": "Jazz guitarist and patient teacher: chords, rhythm and ear training.",
        "skills": [("Guitar", "expert"), ("Music theory", "intermediate")],
    },
    {
        "username": "lucia",
        "timezone": "America/Mexico_City",
        "bio": "Native Spanish speaker; conversation practice for every level.",
        "skills": [("Spanish", "expert"), ("Public speaking", "intermediate")],
    },
    {
        "username": "omar",
        "timezone": "America/New_York",
        "bio": "Data analyst. Spreadsheets, statistics and clear charts.",
        "skills": [("Statistics", "expert"), ("Excel", "expert"), ("Python", "intermediate")],
    },
]
LEARNERS = [
    {"username": "maya", "timezone": "Europe/Berlin", "bio": "Learning Python and Spanish."},
    {"username": "noah", "timezone": "America/Los_Angeles", "bio": "Beginner guitarist."},
]


class Command(BaseCommand):
    help = "Create demo teachers with skills and demo learners (known passwords; DEBUG only)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="Run even with DEBUG off (never in production)."
        )

    @transaction.atomic
    def handle(self, *args, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates accounts with known passwords; it runs only with DEBUG on."
            )
        for spec in TEACHERS:
            teacher = self._user(spec, is_learner=False, is_teacher=True)
            for name, level in spec["skills"]:
                skill, _ = Skill.objects.get_or_create(slug=slugify(name), defaults={"name": name})
                TeacherSkill.objects.get_or_create(
                    teacher=teacher, skill=skill, defaults={"level": level}
                )
        for spec in LEARNERS:
            self._user(spec, is_learner=True, is_teacher=False)
        admin = self._user(
            {"username": "admin", "timezone": "UTC", "bio": ""}, is_learner=True, is_teacher=False
        )
        if not admin.is_superuser:
            admin.is_staff = admin.is_superuser = True
            admin.save(update_fields=["is_staff", "is_superuser"])

        self.stdout.write(self.style.SUCCESS("Demo data is ready. Every demo account's password:"))
        self.stdout.write(f"  password: {DEMO_PASSWORD}")
        self.stdout.write("  teachers: " + ", ".join(t["username"] for t in TEACHERS))
        self.stdout.write("  learners: " + ", ".join(lr["username"] for lr in LEARNERS))
        self.stdout.write("  staff (Django admin at /admin/): admin")

    def _user(self, spec, *, is_learner: bool, is_teacher: bool) -> User:
        user, created = User.objects.get_or_create(
            username=spec["username"],
            defaults={
                "email": f"{spec['username']}@demo.skilllink.test",
                "is_learner": is_learner,
                "is_teacher": is_teacher,
                "timezone": spec["timezone"],
                "bio": spec["bio"],
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        return user
