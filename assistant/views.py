"""The assistant page: ask outside a session (same service, quota and rendering as the room)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import path, reverse

from assistant import client, selectors
from assistant.services import exchange_ask
from skilllink.errors import AppError


@login_required
def assistant_page(request):
    prompt = ""
    if request.method == "POST":
        prompt = request.POST.get("prompt", "")
        try:
            exchange = exchange_ask(user=request.user, prompt=prompt)
        except AppError as error:
            messages.error(request, error.detail)
        else:
            return redirect(f"{reverse('assistant:page')}#answer-{exchange.pk}")
    context = {
        "configured": client.configured(),
        "quota": selectors.quota_for(user=request.user),
        "exchanges": selectors.exchanges_on_page(user=request.user),
        "max_prompt_chars": settings.ASSISTANT_MAX_PROMPT_CHARS,
        "prompt": prompt,
    }
    return render(request, "assistant/page.html", context)


urlpatterns = [path("assistant/", assistant_page, name="page")]
