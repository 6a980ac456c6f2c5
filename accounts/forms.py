from django import forms
from django.contrib.auth.forms import AuthenticationForm

from accounts.models import TeacherSkill, User, timezone_names
from accounts.services import login_failure_record, login_limits_check, login_success_record
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
    )
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email"}))
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

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password1") and cleaned.get("password1") != cleaned.get("password2"):
            self.add_error("password2", "The two passwords differ.")
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
