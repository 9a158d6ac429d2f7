"""The sequencer's HTTP/JSON API: request parsing and JSON views (``codec``), the service that
owns the sequencer and its journal (``service``), the server (``server``) and its hand-written
OpenAPI 3.1 description (``openapi``)."""
