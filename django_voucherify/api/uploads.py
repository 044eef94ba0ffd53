"""Streamed ``multipart/form-data`` bodies for CSV imports.

``requests``' own ``files=`` builds the whole body in memory; a 1,000,000-row CSV would be held
twice. :class:`MultipartFile` instead reads the source in chunks while the request is sent, and
knows its length up front when the source has one (path, bytes, seekable file), so the upload
goes out with a ``Content-Length`` (otherwise chunked).
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

CsvSource = str | os.PathLike[str] | bytes | IO[bytes]
CHUNK = 64 * 1024


class MultipartFile:
    """A one-file multipart body that streams ``source`` and can be rewound for a retry."""

    def __init__(
        self,
        source: CsvSource,
        *,
        field: str = "file",
        filename: str | None = None,
        content_type: str = "text/csv",
    ) -> None:
        self.boundary = uuid.uuid4().hex
        self._owns_file = False
        if isinstance(source, bytes | bytearray):
            self._file: IO[bytes] = io.BytesIO(source)
            filename = filename or "import.csv"
        elif isinstance(source, str | os.PathLike):
            path = Path(source)
            self._file = path.open("rb")
            self._owns_file = True
            filename = filename or path.name
        elif hasattr(source, "read"):
            self._file = source
            filename = filename or os.path.basename(str(getattr(source, "name", "import.csv")))
        else:
            raise TypeError(f"Expected a path, bytes or a binary file object, got {type(source)!r}")
        safe_name = filename.replace('"', "_").replace("\r", "_").replace("\n", "_")
        self._head = (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="{field}"; filename="{safe_name}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        self._tail = f"\r\n--{self.boundary}--\r\n".encode()
        self._start = self._file.tell() if self._seekable() else 0
        self.len = self._length()

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def _seekable(self) -> bool:
        seekable = getattr(self._file, "seekable", None)
        return bool(seekable and seekable())

    def _length(self) -> int | None:
        if not self._seekable():
            return None
        end = self._file.seek(0, io.SEEK_END)
        self._file.seek(self._start)
        return len(self._head) + (end - self._start) + len(self._tail)

    def __iter__(self) -> Iterator[bytes]:
        yield self._head
        while chunk := self._file.read(CHUNK):
            yield chunk
        yield self._tail

    def body(self) -> Any:
        """What to hand to ``requests`` as ``data``: a file-like reader when the length is
        known (sent with Content-Length), else a generator (sent chunked)."""
        if self.len is None:
            return _OneShot(self)
        return _Reader(self)

    def rewind(self) -> bool:
        """Start again from the beginning (before a retry); False for one-shot streams."""
        if self._seekable():
            self._file.seek(self._start)
            return True
        return False

    def close(self) -> None:
        if self._owns_file:
            self._file.close()

    def __enter__(self) -> MultipartFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Reader(io.RawIOBase):
    """File-like view of a :class:`MultipartFile` so requests sends it with Content-Length."""

    def __init__(self, multipart: MultipartFile) -> None:
        self._multipart = multipart
        self._chunks = iter(multipart)
        self._buffer = b""
        self._position = 0
        self.len = multipart.len

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        # requests sizes the body as len - tell(); without this it would send it chunked.
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        want = size if size is not None and size >= 0 else None
        while want is None or len(self._buffer) < want:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if want is None:
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:want], self._buffer[want:]
        self._position += len(out)
        return out

    def rewind(self) -> bool:
        if not self._multipart.rewind():
            return False
        self._chunks = iter(self._multipart)
        self._buffer = b""
        self._position = 0
        return True


class _OneShot:
    """An unsized body (sent chunked). It can be re-sent only if no byte was read yet."""

    def __init__(self, multipart: MultipartFile) -> None:
        self._multipart = multipart
        self.started = False

    def __iter__(self) -> Iterator[bytes]:
        self.started = True
        return iter(self._multipart)

    def rewind(self) -> bool:
        return not self.started
