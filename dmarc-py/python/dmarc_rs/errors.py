"""Exceptions and warnings raised by dmarc_rs.

Every error carries ``kind`` (the core's error kind, e.g. ``"malformed_xml"``) and
``source`` (the file or bytes name, with the part inside it, e.g. an archive entry).
"""

from typing import Optional


class DmarcError(Exception):
    """Base class of every dmarc_rs error."""

    def __init__(self, message: str, kind: str = "", source: Optional[str] = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.source = source


class ParseError(DmarcError, ValueError):
    """An input yielded no report (malformed XML, unknown format, missing elements, ...)."""


class LimitExceeded(ParseError):
    """A security limit was hit: size, compression ratio, depth, count or length."""


class ForbiddenInput(ParseError):
    """The XML has a DOCTYPE; entities are never expanded, such input is refused."""


class NotAggregateReport(ParseError):
    """The input is another kind of report (SMTP TLS, DMARC failure) or holds no report."""


class ReadError(DmarcError, OSError):
    """A file could not be read or does not exist (kind "io")."""


class FilterError(DmarcError, ValueError):
    """A filter value is invalid (not an address or network, not pass/fail, ...)."""


class ParseWarning(UserWarning):
    """A payload of an input was rejected while other payloads of it were read."""


__all__ = [
    "DmarcError",
    "ParseError",
    "LimitExceeded",
    "ForbiddenInput",
    "NotAggregateReport",
    "ReadError",
    "FilterError",
    "ParseWarning",
]
