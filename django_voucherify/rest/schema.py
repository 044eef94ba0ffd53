"""The checkout views' OpenAPI schema, built only when a schema is generated.

drf-spectacular's ``openapi`` module imports ``rest_framework.schemas``, ``django.test`` (and
with it jinja2), docutils through admindocs...: about 100 ms that a web process would otherwise
pay when it loads its URLs, for a schema that only ``SpectacularAPIView`` or ``manage.py
spectacular`` ever reads. :class:`LazySchema` stands on the view class instead and builds the
real :class:`DocumentedSchema` (importing drf-spectacular) on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drf_spectacular.openapi import AutoSchema


#: What every checkout endpoint may answer before its own code runs, so each operation documents
#: them: a body that is not JSON or not valid (400), credentials refused or missing (401 when the
#: project's first authentication class names a scheme, a token's; 403 otherwise, and for a
#: missing CSRF token), a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (413), another content type
#: (415). Each is the error body (:func:`.errors.error_body`).
COMMON_ERRORS = (400, 401, 403, 413, 415)


def documented_schema(*, request: Any, responses: dict[int, Any], summary: str) -> AutoSchema:
    """drf-spectacular's schema with the serializers given here (and :data:`COMMON_ERRORS`),
    whatever the project's ``DEFAULT_SCHEMA_CLASS`` is (``extend_schema`` binds to it)."""
    from drf_spectacular.openapi import AutoSchema

    from .serializers import ErrorSerializer

    responses = dict(sorted({**dict.fromkeys(COMMON_ERRORS, ErrorSerializer), **responses}.items()))

    class DocumentedSchema(AutoSchema):
        def get_request_serializer(self) -> Any:
            return request

        def get_response_serializers(self) -> Any:
            return responses

        def get_summary(self) -> str:
            return summary

    return DocumentedSchema()


class LazySchema:
    """A view's ``schema`` attribute that builds :func:`documented_schema` on first access.

    DRF's schema is itself a descriptor (``ViewInspector``: read on the class or on a view
    instance, assigned per instance by schema generators), so every access is handed over to
    the real schema once it exists.
    """

    def __init__(self, *, request: Any, responses: dict[int, Any], summary: str) -> None:
        self._arguments: dict[str, Any] = {"request": request, "responses": responses, "summary": summary}
        self._schema: AutoSchema | None = None

    @property
    def schema(self) -> AutoSchema:
        if self._schema is None:
            self._schema = documented_schema(**self._arguments)
        return self._schema

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        return self.schema.__get__(instance, owner)

    def __set__(self, instance: object, value: Any) -> None:
        self.schema.__set__(instance, value)
