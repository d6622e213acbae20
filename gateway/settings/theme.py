"""An e-service's look on the citizen's pages (colours and logo), kept within WCAG 2.1 AA at config load.

A municipality may brand the pages its citizens see for its e-service, but never at the cost of
legibility. So the operator chooses only what cannot break contrast:

* ``primary``: buttons (white text on it), links and the selected choice (on the white page). It
  must reach 4.5:1 against white (WCAG 2.1 SC 1.4.3, normal text; which also covers 3:1 for
  component boundaries, SC 1.4.11). A colour that fails is a `Problem` naming the file and key.
* ``header``: the background of the band with the e-service's name and logo. Its text is black or
  white, whichever contrasts more; every colour reaches at least 4.58:1 with one of them, so no
  header colour can fail.
* ``logo``: a PNG or SVG file (at most ``MAX_LOGO_BYTES``), served by the gateway itself so the
  citizen's browser contacts no third party and the CSP can stay ``img-src 'self'``.

Focus indicators are not themeable: they are drawn in black and yellow, visible on any colour.
Relative luminance and contrast ratio follow WCAG 2.1's definitions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

WHITE: Final = "#ffffff"
BLACK: Final = "#000000"
MIN_TEXT_CONTRAST: Final = 4.5
MAX_LOGO_BYTES: Final = 256 * 1024
LOGO_TYPES: Final = {".svg": "image/svg+xml", ".png": "image/png"}
_HEX: Final = re.compile(r"#[0-9a-fA-F]{6}")


@dataclass(frozen=True, slots=True)
class Theme:
    """Validated colours (``#rrggbb``, lower case) and logo of one e-service."""

    primary: str | None = None
    header: str | None = None
    logo: Path | None = None

    @property
    def header_text(self) -> str:
        """Black or white, whichever contrasts more with ``header``."""
        return readable_on(self.header or WHITE)


def parse_colour(value: str) -> tuple[float, float, float] | None:
    """``#rrggbb`` as three channels in 0..1, or None if it is not that form."""
    if not _HEX.fullmatch(value):
        return None
    return tuple(int(value[i : i + 2], 16) / 255 for i in (1, 3, 5))  # type: ignore[return-value]


def relative_luminance(colour: str) -> float:
    """WCAG 2.1 relative luminance of a ``#rrggbb`` colour."""
    channels = parse_colour(colour)
    if channels is None:
        raise ValueError(f"not a #rrggbb colour: {colour!r}")

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG 2.1 contrast ratio between two colours, 1..21."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def readable_on(background: str) -> str:
    """Black or white text, whichever contrasts more with ``background``."""
    return BLACK if contrast(background, BLACK) >= contrast(background, WHITE) else WHITE


def darker(colour: str, factor: float = 0.8) -> str:
    """``colour`` with each channel scaled by ``factor`` (hover states: darker keeps white text legible)."""
    channels = parse_colour(colour)
    if channels is None:
        raise ValueError(f"not a #rrggbb colour: {colour!r}")
    return "#" + "".join(f"{round(c * factor * 255):02x}" for c in channels)


def colour_problem(value: object) -> str | None:
    """Why ``value`` cannot be a theme's primary colour, or None when it can."""
    if not isinstance(value, str) or parse_colour(value) is None:
        return "must be a colour written #rrggbb"
    ratio = contrast(value, WHITE)
    if ratio < MIN_TEXT_CONTRAST:
        return (
            f"contrast with white is {ratio:.2f}:1; WCAG 2.1 AA needs at least {MIN_TEXT_CONTRAST}:1 "
            "for the white button text on it and for links on the white page: choose a darker colour"
        )
    return None


def logo_problem(path: Path) -> str | None:
    """Why ``path`` cannot be a logo, or None when it can."""
    if path.suffix.lower() not in LOGO_TYPES:
        return f"must be a {' or '.join(sorted(LOGO_TYPES))} file"
    if not path.is_file():
        return f"names {path}, which does not exist"
    if path.stat().st_size > MAX_LOGO_BYTES:
        return f"is larger than {MAX_LOGO_BYTES // 1024} KiB"
    return None
