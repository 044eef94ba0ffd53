"""Common base of the endpoint groups (``client.vouchers``, ``client.customers``...)."""

from __future__ import annotations

from typing import Any, ClassVar

from ..batching import EncodedJSON
from ..endpoints import register_resource
from ..transport import Transport
from ..uploads import CsvSource, MultipartFile


def compact(**fields: Any) -> dict[str, Any]:
    """Keyword arguments without the ones left at ``None`` (not sent to Voucherify)."""
    return {k: v for k, v in fields.items() if v is not None}


_JSON = {"Content-Type": "application/json"}


class Resource:
    """A group of endpoints sharing one :class:`~..transport.Transport`."""

    namespace: ClassVar[str] = ""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.namespace:
            register_resource(cls.namespace, cls)

    def _get(self, path: str, params: Any = None) -> Any:
        return self._transport.request("GET", path, params=params)

    def _post(self, path: str, body: Any = None, params: Any = None, **kwargs: Any) -> Any:
        if isinstance(body, EncodedJSON):  # encoded once by the caller: sent as is
            return self._transport.request("POST", path, data=body, params=params, headers=_JSON, **kwargs)
        return self._transport.request("POST", path, json=body, params=params, **kwargs)

    def _put(self, path: str, body: Any) -> Any:
        return self._transport.request("PUT", path, json=body)

    def _delete(self, path: str, params: Any = None) -> Any:
        return self._transport.request("DELETE", path, params=params)

    def _upload_csv(self, path: str, source: CsvSource, filename: str | None) -> Any:
        """POST a CSV as a streamed multipart body; re-sent only if it never left this host."""
        with MultipartFile(source, filename=filename) as multipart:
            return self._transport.request(
                "POST",
                path,
                data=multipart.body(),
                headers={"Content-Type": multipart.content_type},
            )
