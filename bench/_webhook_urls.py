"""URLs of bench/webhooks_receiver.py: the receiver, and a floor view doing nothing."""

from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def floor(request: HttpRequest) -> JsonResponse:
    """The least a Django view can do for a POST: read the body, answer 202 in JSON."""
    return JsonResponse({"id": len(request.body)}, status=202)


@csrf_exempt
def store(request: HttpRequest) -> JsonResponse:
    """The floor of storing an event before answering: one INSERT of the body, committed."""
    from django_voucherify.models import WebhookEvent

    row = WebhookEvent.objects.create(
        event_id=f"floor-{id(request)}-{len(request.body)}-{_next()}", payload={}, type="floor"
    )
    return JsonResponse({"id": row.pk}, status=202)


_counter = iter(range(10**12))


def _next() -> int:
    return next(_counter)


urlpatterns = [
    path("store/", store),
    path("hooks/", include("django_voucherify.webhooks.urls")),
    path("floor/", floor),
]
