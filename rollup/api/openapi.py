"""The API's OpenAPI 3.1 document (served at ``GET /openapi.json``), generated from a route
table (``rollup.api.app.ROUTES``: endpoints with their types, parameters and errors) and the
msgspec types it names (``msgspec.json.schema_components``): what is served and what is
described cannot drift apart.
"""

from __future__ import annotations

import typing

import msgspec

from rollup.api import types as W
from rollup.api.types import OneOf

REF = "#/components/schemas/{name}"
JSON = "application/json"


def _members(t) -> list:
    """The msgspec types inside an answer or body type (list[...], OneOf(...))."""
    if isinstance(t, OneOf):
        return [m for x in t.types for m in _members(x)]
    if typing.get_origin(t) is list:
        return _members(typing.get_args(t)[0])
    return [] if t in (None, dict) else [t]


def _schema(t, refs: dict) -> dict:
    if isinstance(t, OneOf):
        return {"oneOf": [_schema(x, refs) for x in t.types]}
    if typing.get_origin(t) is list:
        return {"type": "array", "items": _schema(typing.get_args(t)[0], refs)}
    if t is dict:
        return {"type": "object"}
    return refs[t]


def _error(doc: str) -> dict:
    return {"description": doc, "content": {JSON: {"schema": {"$ref": REF.format(
        name="Error")}}}}


def spec(routes) -> dict:
    """The document of these routes."""
    types = list(dict.fromkeys([W.Error, *(m for ep in routes for t in (ep.response, ep.body)
                                          for m in _members(t))]))
    found, components = msgspec.json.schema_components(types, ref_template=REF)
    refs = dict(zip(types, found, strict=True))
    queries = [ep.query for ep in routes if ep.query is not None]
    qfound, qcomp = msgspec.json.schema_components(queries, ref_template=REF)
    qprops = {q: qcomp[s["$ref"].rsplit("/", 1)[1]] for q, s in zip(queries, qfound,
                                                                      strict=True)}
    paths: dict = {}
    for ep in routes:
        params = [{"name": n, "in": "path", "required": True, "description": doc,
                   "schema": {"type": "integer", "minimum": 0}} for n, doc in ep.params.items()]
        if ep.query is not None:
            q = qprops[ep.query]
            params += [{"name": n, "in": "query", "required": n in q.get("required", ()),
                        "schema": s} for n, s in q["properties"].items()]
        op = {"operationId": ep.operation_id, "summary": ep.summary}
        if ep.description:
            op["description"] = ep.description
        if params:
            op["parameters"] = params
        if ep.auth == "operator":
            op["security"] = [{"operatorToken": []}]
        if ep.body is not None:
            op["requestBody"] = {"required": True, "content": {JSON: {
                "schema": _schema(ep.body, refs)}}}
        op["responses"] = {"200": {"description": "OK", "content": {JSON: {
            "schema": _schema(ep.response, refs)}}},
            **{str(k): _error(v) for k, v in sorted(ep.errors.items())}}
        paths.setdefault(ep.path, {})[ep.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "zkderiv sequencer API", "version": "1",
                 "description": "Signed requests in, receipts out; accounts, books, fills, "
                                "order status and the sequencer's status. A request is "
                                "acknowledged (200) only once it is in the sequencer's "
                                "journal. Every rejection is {\"error\": {\"code\", "
                                "\"message\"}} with a 4xx or 5xx status (docs/api.md)."},
        "servers": [{"url": "http://127.0.0.1:8080"}],
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": {
            "operatorToken": {"type": "http", "scheme": "bearer",
                              "description": "The token in DATA/admin.token."}}},
    }


def spec_bytes(routes) -> bytes:
    return msgspec.json.encode(spec(routes))
