"""Pages for accounts: landing, registration, login, profile, skills, notifications."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts import email_verification, selectors, services
from accounts.forms import (
    ProfileForm,
    QuestionReplyForm,
    RateLimitedLoginForm,
    RegistrationForm,
    TeacherSkillForm,
)
from accounts.models import TeacherSkill
from skilllink.errors import AppError
from skilllink.ratelimit import client_ip


def home(request):
    if request.user.is_authenticated:
        return redirect("dashboard")
    return render(request, "accounts/home.html")


@require_http_methods(["GET", "POST"])
def register(request):
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = RegistrationForm(request.POST or None)
    if request.method == "POST":
        try:
            services.register_limit_hit(address=client_ip(request))
        except AppError as error:
            form.is_valid()  # keep what was typed on the page
            form.add_app_error(error)
            return render(request, "accounts/register.html", {"form": form}, status=429)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = services.user_register(
                username=data["username"],
                email=data["email"],
                password=data["password1"],
                role=data["role"],
                timezone_name=data["timezone"],
                base_url=request.build_absolute_uri("/"),
            )
        except AppError as error:
            form.add_app_error(error)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            # The same words whether or not the address already had an account.
            messages.success(
                request,
                f"Welcome to SkillLink, {user.username}! We sent a link to {user.email}: "
                "open it to confirm your address.",
            )
            return redirect("dashboard")
    return render(request, "accounts/register.html", {"form": form})


@require_http_methods(["GET"])
def email_verify(request, token: str):
    """The link mailed to an address: confirms it (no login needed: the link is the proof)."""
    try:
        user = email_verification.email_verify(token=token)
    except AppError as error:
        return render(
            request, "accounts/email_verified.html", {"error": error}, status=error.status
        )
    return render(request, "accounts/email_verified.html", {"verified_email": user.email})


@login_required
@require_http_methods(["POST"])
def email_verify_send(request):
    try:
        services.email_verification_resend(
            user=request.user, base_url=request.build_absolute_uri("/")
        )
    except AppError as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, f"We sent a new link to {request.user.email}.")
    return redirect("accounts:profile")


class SkillLinkLoginView(LoginView):
    template_name = "accounts/login.html"
    authentication_form = RateLimitedLoginForm
    redirect_authenticated_user = True


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    user = request.user
    initial = {
        "email": user.email,
        "role": user.role,
        "timezone": user.timezone,
        "theme": user.theme,
        "time_format": user.time_format,
        "bio": user.bio,
        "headline": user.headline,
    }
    form = ProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.user_update_profile(
                user=user,
                email=data["email"],
                role=data["role"],
                timezone_name=data["timezone"],
                theme=data["theme"],
                time_format=data["time_format"] or None,
                bio=data["bio"],
                base_url=request.build_absolute_uri("/"),
                headline=data["headline"] if user.is_teacher else None,
            )
        except AppError as error:
            form.add_app_error(error)
        else:
            messages.success(request, "Your profile is saved.")
            return redirect("accounts:profile")
    context = {"form": form}
    if user.is_teacher:
        context["user_photo_url"] = user.photo.url if user.photo else ""
        context["photo_max_mb"] = settings.PHOTO_MAX_BYTES // (1024 * 1024)
        context["teacher_skills"] = selectors.teacher_skill_list(teacher=user)
        context["skill_form"] = TeacherSkillForm()
    return render(request, "accounts/profile.html", context)


def _profile_skills_url() -> str:
    return reverse("accounts:profile") + "#skills"


@login_required
@require_http_methods(["POST"])
def photo_upload(request):
    """The teacher's photo: upload a new one, or ``remove`` it (initials are shown)."""
    try:
        if request.POST.get("remove"):
            services.user_photo_remove(user=request.user)
            messages.success(request, "Your photo is removed; your initials show instead.")
        else:
            services.user_photo_set(user=request.user, upload=request.FILES.get("photo"))
            messages.success(request, "Your photo is saved.")
    except AppError as error:
        messages.error(request, error.detail)
    return redirect(reverse("accounts:profile") + "#photo")


@login_required
def question_detail(request, question_id: int):
    """A question sent before booking: the teacher replies here; both read it here."""
    try:
        question = selectors.question_get_for_user(user=request.user, question_id=question_id)
    except AppError as error:
        raise Http404(error.detail) from None
    form = QuestionReplyForm(request.POST or None)
    can_reply = question.teacher_id == request.user.pk and question.replied_at is None
    if request.method == "POST" and form.is_valid():
        try:
            services.question_reply(
                teacher=request.user, question_id=question.pk, body=form.cleaned_data["reply"]
            )
        except AppError as error:
            if error.status == 404:
                raise Http404(error.detail) from None
            form.add_app_error(error)
        else:
            messages.success(request, f"Reply sent to {question.learner.username}.")
            return redirect("accounts:question_detail", question_id=question.pk)
    context = {"question": question, "form": form, "can_reply": can_reply}
    return render(request, "accounts/question.html", context)


@login_required
@require_http_methods(["POST"])
def skill_add(request):
    try:
        teacher_skill = services.teacher_skill_add(
            teacher=request.user,
            skill_name_or_slug=request.POST.get("skill", ""),
            level=request.POST.get("level") or TeacherSkill.Level.INTERMEDIATE,
            blurb=request.POST.get("blurb", ""),
        )
    except AppError as error:
        messages.error(request, error.detail)
    else:
        messages.success(
            request,
            f"{teacher_skill.skill.name} is on your list ({teacher_skill.get_level_display()}).",
        )
    return redirect(_profile_skills_url())


@login_required
@require_http_methods(["POST"])
def skill_remove(request, slug: str):
    try:
        moved = services.teacher_skill_remove(teacher=request.user, slug=slug)
    except AppError as error:
        messages.error(request, error.detail)
    else:
        text = "Removed from the skills you teach."
        if moved:
            text += (
                f" {moved} open slot{'s' if moved != 1 else ''} for it now "
                f"offer{'s' if moved == 1 else ''} any of your skills."
            )
        messages.success(request, text)
    return redirect(_profile_skills_url())


@login_required
def notifications(request):
    items = selectors.notification_list(user=request.user, limit=200)
    return render(request, "accounts/notifications.html", {"notifications": items})


@login_required
@require_http_methods(["POST"])
def notifications_read_all(request):
    count = services.notification_mark_all_read(user=request.user)
    messages.info(request, f"Marked {count} notification{'s' if count != 1 else ''} read.")
    return redirect("accounts:notifications")
