"""JSON-lines logging on stderr, in the shape go-plugin's host understands.

go-plugin reads a plugin's stderr line by line; a line that is a JSON object
with "@level", "@message" and "@timestamp" becomes a structured hclog entry,
and its other keys become fields. Anything else (OCCT's own prints, a Python
traceback) is logged by the host at debug level as plain text.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any, TextIO

_LEVELS = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warn",
    logging.ERROR: "error",
    logging.CRITICAL: "error",
}

_RESERVED = {"@level", "@message", "@timestamp", "@module"}


def timestamp(when: datetime) -> str:
    """Format when like Go's 2006-01-02T15:04:05.000000Z07:00 ("Z" for UTC)."""
    text = when.isoformat(timespec="microseconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class JSONFormatter(logging.Formatter):
    """Formats a record as one hclog-compatible JSON line.

    Extra fields come from ``extra={"fields": {...}}``.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "@level": _LEVELS.get(record.levelno, "info"),
            "@message": record.getMessage(),
            "@timestamp": timestamp(datetime.fromtimestamp(record.created, tz=timezone.utc)),
            "@module": record.name,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                entry[key if key not in _RESERVED else "_" + key] = value
        if record.exc_info:
            entry["error_trace"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class _StderrHandler(logging.StreamHandler):
    """A StreamHandler that looks up sys.stderr at each write."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure(name: str = "cascadio", level: int = logging.INFO) -> logging.Logger:
    """Return the plugin's logger, writing JSON lines to stderr (idempotent)."""
    logger = logging.getLogger(name)
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(JSONFormatter())
        logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return logger
