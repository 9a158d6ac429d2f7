"""The sequencer's HTTP/JSON API: request and answer types (``types``), decoding (``codec``), the
ASGI application and its route table (``app``), the OpenAPI document generated from them
(``openapi``), the uvicorn server (``server``), the service that owns the sequencer and its
journal (``service``), rate limits (``limits``), order status (``orders``) and the WebSocket
stream hub (``streams``). docs/api.md describes it."""
