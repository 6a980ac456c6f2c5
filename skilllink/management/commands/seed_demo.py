"""Create demo accounts and skills (idempotent): run it as often as you like."""

from datetime import datetime, time, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
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
        self._sessions()

        self.stdout.write(self.style.SUCCESS("Demo data is ready. Every demo account's password:"))
        self.stdout.write(f"  password: {DEMO_PASSWORD}")
        self.stdout.write("  teachers: " + ", ".join(t["username"] for t in TEACHERS))
        self.stdout.write("  learners: " + ", ".join(lr["username"] for lr in LEARNERS))
        self.stdout.write("  staff (Django admin at /admin/): admin")

    def _sessions(self) -> None:
        """Open slots for the next week, one accepted and one pending booking, and a rated
        past session, all through the real services. Skipped once slots exist."""
        from scheduling.models import AvailabilitySlot
        from scheduling.services.slots import slot_create

        if AvailabilitySlot.objects.exists():
            return
        now = timezone.now()
        first_slots = {}
        for spec in TEACHERS:
            teacher = User.objects.get(username=spec["username"])
            today = now.astimezone(teacher.zone).date()
            for day in range(1, 8):
                for hour in (9, 18):
                    start = datetime.combine(
                        today + timedelta(days=day), time(hour), tzinfo=teacher.zone
                    )
                    slot = slot_create(teacher=teacher, start=start, end=start + timedelta(hours=1))
                    first_slots.setdefault(teacher.username, slot)
        self._demo_bookings(first_slots, now)

    def _demo_bookings(self, first_slots, now) -> None:
        from scheduling.services.bookings import booking_request
        from scheduling.services.slots import slot_create
        from scheduling.transitions import (
            booking_accept,
            booking_complete,
            booking_join,
            booking_rate,
        )

        ada = User.objects.get(username="ada")
        maya, noah = User.objects.get(username="maya"), User.objects.get(username="noah")
        scheduled = booking_request(
            learner=maya,
            slot_id=first_slots["ada"].pk,
            skill_slug="python",
            message="I'd like to understand decorators.",
        )
        booking_accept(booking_id=scheduled.pk, teacher=ada)
        booking_request(
            learner=noah,
            slot_id=first_slots["kenji"].pk,
            skill_slug="guitar",
            message="Beginner here: first chords?",
        )
        # A finished, rated session: time is given to the services, not waited for.
        past = now - timedelta(days=9)  # outside the quota window: noah can still book
        slot = slot_create(
            teacher=ada, start=past, end=past + timedelta(hours=1), now=past - timedelta(days=1)
        )
        done = booking_request(
            learner=noah, slot_id=slot.pk, skill_slug="python", now=past - timedelta(hours=20)
        )
        booking_accept(booking_id=done.pk, teacher=ada, now=past - timedelta(hours=10))
        booking_join(booking_id=done.pk, user=noah, now=past)
        booking_join(booking_id=done.pk, user=ada, now=past + timedelta(minutes=1))
        booking_complete(booking_id=done.pk, user=ada, now=past + timedelta(minutes=55))
        booking_rate(
            booking_id=done.pk, learner=noah, stars=5, feedback="Clear and patient. Thank you!"
        )

    def _user(self, spec, *, is_learner: bool, is_teacher: bool) -> User:
        user, created = User.objects.get_or_create(
            username=spec["username"],
            defaults={
                "email": f"{spec['username']}@demo.skilllink.test",
                # Demo addresses receive no mail: count them as confirmed.
                "email_verified": True,
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
