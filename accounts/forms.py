from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm

from accounts.models import (
    HEADLINE_MAX_LENGTH,
    QUESTION_MAX_LENGTH,
    TeacherSkill,
    User,
    timezone_names,
)
from accounts.services import (
    login_failure_record,
    login_limits_check,
    login_success_record,
    registration_problems,
)
from accounts.usernames import USERNAME_RULE
from skilllink.errors import AppError
from skilllink.ratelimit import client_ip

ROLE_CHOICES = [
    ("learner", "Learn — book sessions with teachers"),
    ("teacher", "Teach — publish skills and open slots"),
    ("both", "Both"),
]


def _timezone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(timezone_names())]


class AppErrorFormMixin:
    """Show a service's :class:`AppError` on the form: field errors where it names fields."""

    def add_app_error(self, error: AppError) -> None:
        if not error.fields:
            self.add_error(None, error.detail)
            return
        for name, messages in error.fields.items():
            field = name if name in self.fields else None
            for message in messages:
                self.add_error(field, message)


class RegistrationForm(AppErrorFormMixin, forms.Form):
    username = forms.CharField(
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
        help_text=USERNAME_RULE,
    )
    email = forms.EmailField(
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        help_text="We send a link to confirm it.",
    )
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    role = forms.ChoiceField(
        choices=ROLE_CHOICES, initial="learner", widget=forms.RadioSelect, label="I want to"
    )
    timezone = forms.ChoiceField(
        choices=_timezone_choices,
        initial="UTC",
        label="Time zone",
        help_text="Detected from your browser; times are shown in this zone.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The rules up front, before a first attempt: the validators' own texts (safe HTML).
        self.fields[
            "password1"
        ].help_text = password_validation.password_validators_help_text_html()

    def clean(self):
        """Every problem at once, each beside its field: the service's checks run even when
        a field already failed here, and add what this form did not find itself."""
        cleaned = super().clean()
        if cleaned.get("password1") and cleaned.get("password1") != cleaned.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        problems = registration_problems(
            username=str(self.data.get("username", "")),
            email=str(self.data.get("email", "")),
            password=str(self.data.get("password1", "")),
            role=cleaned.get("role") or "learner",
            timezone_name=cleaned.get("timezone") or "UTC",
        )
        for name, messages in problems.items():
            field = "password1" if name == "password" else name
            if field in self.fields and field not in self.errors:
                for message in messages:
                    self.add_error(field, message)
        return cleaned


class ProfileForm(AppErrorFormMixin, forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=ROLE_CHOICES, widget=forms.RadioSelect, label="I want to")
    timezone = forms.ChoiceField(choices=_timezone_choices, label="Time zone")
    theme = forms.ChoiceField(choices=User.Theme.choices, label="Theme")
    time_format = forms.ChoiceField(
        choices=User.TimeFormat.choices,
        required=False,  # a form without it (an older page) leaves the preference alone
        label="Clock",
        help_text="How times are written on pages, in the calendar, notifications and emails.",
    )
    bio = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="What you know, how you teach, what you want to learn.",
    )
    headline = forms.CharField(
        required=False,
        max_length=HEADLINE_MAX_LENGTH,
        label="Headline",
        widget=forms.TextInput(attrs={"placeholder": "e.g. Jazz guitar for adult beginners"}),
        help_text="One line under your name on your teacher card.",
    )


class QuestionReplyForm(AppErrorFormMixin, forms.Form):
    """The teacher's reply; ``question_reply`` does the validating."""

    reply = forms.CharField(
        max_length=QUESTION_MAX_LENGTH,
        label="Your reply",
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": QUESTION_MAX_LENGTH}),
    )


class TeacherSkillForm(forms.Form):
    """The profile page's "add a skill" fields; ``teacher_skill_add`` does the validating."""

    skill = forms.CharField(
        max_length=80,
        widget=forms.TextInput(
            attrs={
                "list": "skill-options",
                "autocomplete": "off",
                "placeholder": "e.g. Python, Guitar, Spanish",
                "data-skill-autocomplete": "",
            }
        ),
        help_text="Pick an existing skill or type a new one.",
    )
    level = forms.ChoiceField(
        choices=TeacherSkill.Level.choices, initial=TeacherSkill.Level.INTERMEDIATE
    )
    blurb = forms.CharField(
        required=False,
        max_length=280,
        label="Short blurb (optional)",
        widget=forms.TextInput(attrs={"placeholder": "What a session with you covers"}),
    )


class RateLimitedLoginForm(AuthenticationForm):
    """Django's login form within the login limits (``accounts.services``): checked first,
    then each failure and success recorded."""

    def full_clean(self):
        """A failed login is a form-level error: mark both inputs invalid and point them at it."""
        super().full_clean()
        if self.is_bound and self.non_field_errors():
            for name in ("username", "password"):
                self.fields[name].widget.attrs.update(
                    {"aria-invalid": "true", "aria-describedby": "form-errors"}
                )

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        address = client_ip(self.request)
        try:
            login_limits_check(username=username, address=address)
        except AppError as error:
            raise forms.ValidationError(error.detail, code=error.code) from None
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            login_failure_record(username=username, address=address)
            raise
        login_success_record(user=self.user_cache, address=address)
        return cleaned
