"""What the page header shows on every page that several apps provide (wiring)."""

from credits.selectors import credits_summary


def header(request) -> dict:
    """The signed-in user's available credits (the header updates them live)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"header_credits": credits_summary(user=user)}
