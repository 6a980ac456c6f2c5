from accounts.selectors import notification_unread_count


def shell(request):
    """What base.html needs on every page: theme and the bell's unread count."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return {"theme": user.theme, "unread_count": notification_unread_count(user=user)}
    theme = request.COOKIES.get("theme", "system")
    return {"theme": theme if theme in {"system", "light", "dark"} else "system", "unread_count": 0}
