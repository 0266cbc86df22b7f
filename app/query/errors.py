"""The query side's one error type for a request it cannot serve as asked (a 400 over HTTP).

Anything else that goes wrong is a fault of the service (a 500 with the request id), never the client's.

>>> issubclass(RequestError, ValueError)
True
"""

from __future__ import annotations


class RequestError(ValueError):
    """The request breaks a configured limit or asks for something this service cannot do (message says what)."""
