"""Reads for accounts."""

from typing import Any

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Lower

from accounts.models import Notification, Skill, TeacherQuestion, TeacherSkill, User
from skilllink.errors import NotFound


def notification_payload(notification: Notification) -> dict[str, Any]:
    """The one JSON shape of a notification (REST list and socket push alike)."""
    return {
        "id": notification.pk,
        "kind": notification.kind,
        "title": notification.title,
        "body": notification.body,
        "url": notification.url,
        "created_at": notification.created_at.isoformat(),
        "read": notification.read_at is not None,
    }


def notification_list(*, user: User, unread_only: bool = False, limit: int = 50) -> QuerySet:
    qs = Notification.objects.filter(user=user)
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return qs.order_by("-created_at", "-id")[:limit]


def notifications_after(
    *, user: User, after_id: int, limit: int = 20, newest: bool = False
) -> list[Notification]:
    """The user's notifications with an id above ``after_id``: the oldest ``limit`` of them
    in creation order, or with ``newest`` the latest ``limit``, newest first."""
    qs = Notification.objects.filter(user=user, pk__gt=after_id)
    return list(qs.order_by("-pk" if newest else "pk")[:limit])


def notification_unread_count(*, user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def notification_get_for_user(*, user: User, notification_id: int) -> Notification:
    try:
        return Notification.objects.get(pk=notification_id, user=user)
    except Notification.DoesNotExist:
        raise NotFound("No such notification.") from None


def skill_search(*, q: str, limit: int = 20) -> QuerySet[Skill]:
    """Skills whose name contains ``q`` (any case): prefix matches first, each group by name.

    An empty ``q`` lists the catalogue from the start of the alphabet.
    """
    q = " ".join(q.split())
    qs = Skill.objects.all()
    if q:
        qs = qs.filter(name__icontains=q).annotate(
            prefix_rank=Case(
                When(name__istartswith=q, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        return qs.order_by("prefix_rank", Lower("name"), "pk")[:limit]
    return qs.order_by(Lower("name"), "pk")[:limit]


def teacher_skill_list(*, teacher: User) -> QuerySet[TeacherSkill]:
    """The skills ``teacher`` teaches, with their ``Skill`` joined, by skill name."""
    return (
        TeacherSkill.objects.filter(teacher=teacher)
        .select_related("skill")
        .order_by(Lower("skill__name"), "pk")
    )


def skills_taught() -> QuerySet:
    """Skills at least one teacher offers, by name (for search filters and the match form)."""
    return Skill.objects.filter(teacher_skills__isnull=False).distinct().order_by("name")


def question_get_for_user(*, user: User, question_id: int, lock: bool = False) -> TeacherQuestion:
    """The question if ``user`` asked or received it; ``NotFound`` for anyone else (the
    same answer as a missing one). ``lock``: ``SELECT … FOR UPDATE`` (inside a transaction)."""
    rows = TeacherQuestion.objects.select_related("learner", "teacher").filter(
        Q(learner=user) | Q(teacher=user), pk=question_id
    )
    if lock:
        rows = rows.select_for_update(of=("self",))
    question = rows.first()
    if question is None:
        raise NotFound("No such question.")
    return question
