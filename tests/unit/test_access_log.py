"""Credentials sent in query strings (live streams, the visitor token) stay out of the access log."""

from __future__ import annotations

import logging

from omnihook.web import RedactQueryCredentials


def access_record(path: str) -> logging.LogRecord:
    # The shape of uvicorn's access log record: client, method, full path, HTTP version, status.
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", path, "1.1", 200),
        None,
    )


def test_auth_and_visitor_tokens_are_redacted_and_the_rest_is_kept() -> None:
    record = access_record("/api/v1/omnihook/stream/agent?userId=u1&authToken=s3cret&x=1")
    assert RedactQueryCredentials().filter(record) is True
    assert record.getMessage() == (
        '127.0.0.1:5000 - "GET /api/v1/omnihook/stream/agent?userId=u1&authToken=[redacted]&x=1 HTTP/1.1" 200'
    )
    visitor = access_record("/api/v1/livechat/messages.history/r1?token=visitor-secret&limit=20")
    RedactQueryCredentials().filter(visitor)
    assert "visitor-secret" not in visitor.getMessage()
    assert "limit=20" in visitor.getMessage()


def test_paths_without_credentials_are_untouched() -> None:
    record = access_record("/admin/deliveries?status=dead&tokens=3")
    RedactQueryCredentials().filter(record)
    assert "status=dead&tokens=3" in record.getMessage()
