"""Pages for accounts: landing, registration, login, profile, skills, notifications."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts import selectors, services
from accounts.forms import ProfileForm, RateLimitedLoginForm, RegistrationForm, TeacherSkillForm
from accounts.models import TeacherSkill
from skilllink.errors import AppError


def home(request):
    if request.user.is_authenticated:
        return redirect("dashboard")
    return render(request, "accounts/home.html")


@require_http_methods(["GET", "POST"])
def register(request):
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = RegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = services.user_register(
                username=data["username"],
                email=data["email"],
                password=data["password1"],
                role=data["role"],
                timezone_name=data["timezone"],
            )
        except AppError as error:
            form.add_app_error(error)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome to SkillLink, {user.username}!")
            return redirect("dashboard")
    return render(request, "accounts/register.html", {"form": form})


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
            )
        except AppError as error:
            form.add_app_error(error)
        else:
            messages.success(request, "Your profile is saved.")
            return redirect("accounts:profile")
    context = {"form": form}
    if user.is_teacher:
        context["teacher_skills"] = selectors.teacher_skill_list(teacher=user)
        context["skill_form"] = TeacherSkillForm()
    return render(request, "accounts/profile.html", context)


def _profile_skills_url() -> str:
    return reverse("accounts:profile") + "#skills"


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
