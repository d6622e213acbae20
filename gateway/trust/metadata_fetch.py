"""Getting a metadata source's bytes: over HTTP(S) with hard limits, or from a local file.

pysaml2 fetches remote metadata without a timeout (``http_client_timeout=None``) and without a size
limit, so the gateway fetches itself: a connect and read timeout, a deadline for the whole transfer,
and a byte limit counted on the decoded body (a compressed bomb stops at the limit, not after it).
Redirects are followed only to https (or, for a plain-http source, which only development allows,
to the same scheme). A conditional request (``If-None-Match`` / ``If-Modified-Since``) lets the
federation's server answer 304 when nothing changed. Nothing fetched is trusted here: the caller
verifies it (`gateway.trust.metadata`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import requests
import urllib3

from gateway.settings.schema import MetadataSource

_CHUNK = 64 * 1024
_MAX_REDIRECTS = 3


class FetchFailed(Exception):
    """The source could not be read; ``reason`` is safe to log (no URL credentials, no content)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Fetched:
    """What a source gave: the bytes (None when the server said 304) and its validators for next time."""

    document: bytes | None
    etag: str | None = None
    last_modified: str | None = None


def fetch(
    source: MetadataSource,
    *,
    timeout: float,
    max_bytes: int,
    etag: str | None = None,
    last_modified: str | None = None,
) -> Fetched:
    """Read ``source`` within ``timeout`` seconds and ``max_bytes``; raise `FetchFailed` otherwise."""
    if source.file is not None:
        return Fetched(_read_file(source.file, max_bytes))
    if source.url is None:  # pragma: no cover - settings guarantee one of the two
        raise FetchFailed("the source has neither file nor url")
    return _get(source.url, timeout=timeout, max_bytes=max_bytes, etag=etag, last_modified=last_modified)


def _read_file(path: Path, max_bytes: int) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise FetchFailed(f"cannot read the file: {exc.strerror}") from None
    if len(data) > max_bytes:
        raise FetchFailed(f"the file is larger than {max_bytes} bytes")
    return data


def _read_body(response: requests.Response, max_bytes: int, deadline: float) -> bytes:
    """The decoded body, stopping at ``max_bytes`` or the deadline.

    ``read1`` returns whatever has arrived (urllib3 2), so a server that drips one byte at a time
    cannot hold the fetch past the deadline, as a loop over fixed-size reads would let it.
    """
    body = bytearray()
    try:
        while True:
            chunk = response.raw.read1(_CHUNK, decode_content=True)
            if not chunk:
                return bytes(body)
            body.extend(chunk)
            if len(body) > max_bytes:
                raise FetchFailed(f"the document is larger than {max_bytes} bytes")
            if time.monotonic() > deadline:
                raise FetchFailed("timed out")
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise FetchFailed(f"transfer failed: {type(exc).__name__}") from None


def _get(url: str, *, timeout: float, max_bytes: int, etag: str | None, last_modified: str | None) -> Fetched:
    deadline = time.monotonic() + timeout
    headers = {"Accept": "application/samlmetadata+xml, application/xml;q=0.9, text/xml;q=0.8"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    scheme = url.split(":", 1)[0].lower()
    with requests.Session() as session:
        session.max_redirects = _MAX_REDIRECTS
        try:
            response = session.get(url, headers=headers, timeout=(min(timeout, 5.0), timeout), stream=True)
        except requests.Timeout:
            raise FetchFailed("timed out") from None
        except requests.TooManyRedirects:
            raise FetchFailed("too many redirects") from None
        except requests.RequestException as exc:
            raise FetchFailed(f"request failed: {type(exc).__name__}") from None
        with response:
            final_scheme = response.url.split(":", 1)[0].lower()
            if final_scheme != scheme and final_scheme != "https":
                raise FetchFailed("redirected away from https")
            if response.status_code == 304 and (etag or last_modified):
                return Fetched(None, etag, last_modified)
            if response.status_code != 200:
                raise FetchFailed(f"HTTP status {response.status_code}")
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise FetchFailed(f"the document is larger than {max_bytes} bytes")
            body = _read_body(response, max_bytes, deadline)
            return Fetched(bytes(body), response.headers.get("ETag"), response.headers.get("Last-Modified"))
