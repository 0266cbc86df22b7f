"""One module-level ``APIRouter`` per capability (query, chat, admin, ops, web, ...); thin: parse, call a service,
shape the response. Included by :func:`app.http.factory.create_app`."""
