"""The API's OpenAPI 3.1 description, written by hand (served at ``GET /openapi.json``).

Every route of ``rollup.api.server.ROUTES`` is described here and nothing else is; the tests hold
the two together and check that every ``$ref`` resolves.
"""

from __future__ import annotations

import copy

from rollup.api.codec import MAX_BATCH

_INT = {"type": "integer"}
_UINT = {"type": "integer", "minimum": 0}
_BIGINT = {"oneOf": [{"type": "integer"},
                     {"type": "string", "pattern": "^-?(0x[0-9a-fA-F]+|[0-9]+)$"}],
           "description": "An integer, or its decimal / 0x-hex string (for 254-bit values)."}
_HEX32 = {"type": "string", "pattern": "^0x[0-9a-f]{64}$"}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _request(name: str, type_id: int, doc: str, fields: dict[str, dict], required: list[str]
             ) -> dict:
    props = {"type": {"description": f"{type_id} or \"{name}\"",
                      "oneOf": [{"const": type_id}, {"const": name}]},
             **fields, "sig": _ref("Signature")}
    return {"type": "object", "description": doc, "additionalProperties": False,
            "required": ["type", *required, "sig"], "properties": props}


def _error_response(doc: str) -> dict:
    return {"description": doc,
            "content": {"application/json": {"schema": _ref("Error")}}}


def _ok(doc: str, schema: str) -> dict:
    return {"description": doc, "content": {"application/json": {"schema": _ref(schema)}}}


_ERRORS = {
    "400": _error_response("Malformed input: bad JSON (MalformedJSON), unknown or unsigned "
                           "type, missing or mistyped field, bad query parameter."),
}

_SCHEMAS = {
    "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {
            "type": "object", "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description":
                         "The engine's typed error (rollup.errors: InsufficientMargin, "
                         "StaleNonce, BadSignature, ...) or an input error (MalformedJSON, "
                         "MalformedRequest, UnknownType, UnsignedType, MissingSignature, "
                         "BodyTooLarge, BatchTooLarge, LengthRequired, NotFound, "
                         "MethodNotAllowed, BadParameter, InternalError)."},
                "message": {"type": "string"}}}},
    },
    "Signature": {
        "type": "array", "description": "EdDSA-Poseidon signature [[R8x, R8y], S] over the "
        "request's message in the domain (chain id, rollup address).",
        "prefixItems": [{"type": "array", "prefixItems": [_BIGINT, _BIGINT], "minItems": 2,
                         "maxItems": 2}, _BIGINT],
        "minItems": 2, "maxItems": 2,
    },
    "Order": _request("order", 4, "A perpetual or option order (the asset's kind decides).", {
        "account": _BIGINT, "asset": _BIGINT, "side": {**_BIGINT, "description": "0 buy, 1 sell"},
        "size": _BIGINT, "price": _BIGINT, "order_id": _BIGINT, "expiry": _BIGINT,
        "flags": {**_BIGINT, "description": "bits: 1 post-only, 2 IOC, 4 reduce-only, 8 market"},
    }, ["account", "asset", "side", "size", "price", "order_id", "expiry"]),
    "Cancel": _request("cancel", 6, "Cancel a resting order.", {
        "account": _BIGINT, "asset": _BIGINT, "order_id": _BIGINT,
    }, ["account", "asset", "order_id"]),
    "Withdrawal": _request("withdrawal", 2, "Collateral out to an L1 address.", {
        "account": _BIGINT, "amount": _BIGINT, "to": _BIGINT, "nonce": _BIGINT,
        "expiry": _BIGINT,
    }, ["account", "amount", "to", "nonce", "expiry"]),
    "Transfer": _request("transfer", 3, "Collateral to another account.", {
        "sender": _BIGINT, "receiver": _BIGINT, "amount": _BIGINT, "nonce": _BIGINT,
        "expiry": _BIGINT,
    }, ["sender", "receiver", "amount", "nonce", "expiry"]),
    "Liquidation": _request("liquidation", 10, "Take over part of a liquidatable position.", {
        "liquidator": _BIGINT, "liquidated": _BIGINT, "asset": _BIGINT, "size": _BIGINT,
        "nonce": _BIGINT, "expiry": _BIGINT,
    }, ["liquidator", "liquidated", "asset", "size", "nonce", "expiry"]),
    "OracleUpdate": _request("oracle", 8, "A price, signed by the oracle key.", {
        "asset": _BIGINT, "price": _BIGINT, "time": _BIGINT,
    }, ["asset", "price", "time"]),
    "FundingTick": _request("funding", 7, "A perpetual's funding index, signed by the oracle.", {
        "asset": _BIGINT, "index": _BIGINT, "time": _BIGINT,
    }, ["asset", "index", "time"]),
    "SettlementPrice": _request("settlement_price", 9, "An expired series' settlement price, "
                                "signed by the oracle.", {
        "asset": _BIGINT, "price": _BIGINT, "time": _BIGINT,
    }, ["asset", "price", "time"]),
    "SignedRequest": {"oneOf": [_ref(n) for n in (
        "Order", "Cancel", "Withdrawal", "Transfer", "Liquidation", "OracleUpdate",
        "FundingTick", "SettlementPrice")]},
    "Fill": {
        "type": "object",
        "required": ["id", "seq", "asset", "price", "size", "maker", "taker", "maker_order",
                     "taker_order", "taker_side", "maker_fee", "taker_fee"],
        "properties": {"id": {**_UINT, "description": "1, 2, ... in the order of the fills"},
                       "seq": {**_UINT, "description": "journal number of the taker's order"},
                       "asset": _UINT, "price": _UINT, "size": _UINT, "maker": _UINT,
                       "taker": _UINT, "maker_order": _UINT, "taker_order": _UINT,
                       "taker_side": {"enum": ["buy", "sell"]}, "maker_fee": _UINT,
                       "taker_fee": _UINT},
    },
    "Receipt": {
        "type": "object", "description": "The request is in the journal and applied.",
        "required": ["accepted", "seq", "root", "type", "fills", "resting", "dropped", "note",
                     "public_data"],
        "properties": {
            "accepted": {"const": True},
            "seq": {**_UINT, "description": "position in the journal"},
            "root": {**_HEX32, "description": "state root after the request; for requests "
                     "applied together in a group commit (a batch, or concurrent submits), "
                     "the root after the group"},
            "type": {"type": "string"},
            "fills": {"type": "array", "items": _ref("Fill")},
            "resting": {"oneOf": [{"type": "null"}, {
                "type": "object", "description": "the order's remainder now in the book",
                "required": ["asset", "order_id", "side", "price", "remaining"],
                "properties": {"asset": _UINT, "order_id": _UINT,
                               "side": {"enum": ["buy", "sell"]}, "price": _UINT,
                               "remaining": _UINT}}]},
            "dropped": {"type": "array", "description": "resting orders removed while matching",
                        "items": {"type": "object", "properties": {
                            "account": _UINT, "order_id": _UINT, "reason": {"type": "string"}}}},
            "note": {"type": "string"},
            "public_data": {"type": "array", "items": {"type": "string"},
                            "description": "hex of the public-data records published"},
        },
    },
    "BatchItem": {
        "type": "object", "description": "The answer to one request of a batch: its index in "
        "the batch and the HTTP status the single endpoint would have answered; with status "
        "200 the receipt's fields, otherwise an error object.",
        "required": ["index", "status"],
        "properties": {"index": _UINT, "status": _UINT},
        "oneOf": [{"allOf": [{"properties": {"status": {"const": 200}}}, _ref("Receipt")]},
                  {"allOf": [{"properties": {"status": {"minimum": 400}}}, _ref("Error")]}],
    },
    "Account": {
        "type": "object",
        "required": ["id", "public_key", "nonce", "collateral", "positions", "open_orders",
                     "margin"],
        "properties": {
            "id": _UINT,
            "public_key": {"type": "object", "required": ["x", "y", "compressed"],
                           "properties": {"x": {"type": "string"}, "y": {"type": "string"},
                                          "compressed": {"type": "string"}}},
            "nonce": _UINT, "collateral": _INT,
            "positions": {"type": "array", "items": {
                "type": "object", "properties": {"asset": _UINT, "balance": _INT,
                                                 "funding_snapshot": _INT}}},
            "open_orders": {"type": "array", "items": {
                "type": "object", "properties": {
                    "asset": _UINT, "order_id": _UINT, "side": {"enum": ["buy", "sell"]},
                    "price": _UINT, "size": _UINT, "remaining": _UINT, "expiry": _UINT,
                    "flags": _UINT}}},
            "margin": {"type": "object", "description": "At the current oracle prices, in "
                       "collateral units; healthy: excess_initial >= 0; liquidatable: "
                       "excess_maintenance < 0.",
                       "properties": {"value": _INT, "unsettled_funding": _INT,
                                      "risk_initial": _INT, "risk_maintenance": _INT,
                                      "excess_initial": _INT, "excess_maintenance": _INT,
                                      "healthy": {"type": "boolean"},
                                      "liquidatable": {"type": "boolean"}}},
        },
    },
    "Level": {"type": "object", "required": ["price", "size", "orders"],
              "properties": {"price": _UINT, "size": _UINT, "orders": _UINT}},
    "Book": {
        "type": "object", "required": ["asset", "kind", "oracle_price", "time", "bids", "asks"],
        "properties": {"asset": _UINT, "kind": {"description": "1 perp, 2 call, 3 put",
                                                **_UINT},
                       "oracle_price": _UINT, "time": _UINT,
                       "bids": {"type": "array", "items": _ref("Level"),
                                "description": "best (highest) first"},
                       "asks": {"type": "array", "items": _ref("Level"),
                                "description": "best (lowest) first"}},
    },
    "Fills": {
        "type": "object", "required": ["since", "fills", "next", "total"],
        "properties": {"since": _UINT, "fills": {"type": "array", "items": _ref("Fill")},
                       "next": {**_UINT, "description": "pass as since for the next page"},
                       "total": _UINT},
    },
    "Status": {
        "type": "object",
        "required": ["root", "seq", "genesis_seq", "time", "chain_id", "rollup_address",
                     "tree_depth", "accounts", "assets", "oracle_key", "resting_orders",
                     "fills", "accepted", "rejected", "uptime_s", "batch"],
        "properties": {
            "root": _HEX32, "seq": {**_UINT, "description": "journal length"},
            "genesis_seq": _UINT, "time": {**_UINT, "description": "oracle time"},
            "chain_id": _UINT, "rollup_address": {"type": "string"}, "tree_depth": _UINT,
            "accounts": _UINT, "assets": {"type": "array", "items": _UINT},
            "oracle_key": {"type": ["string", "null"]}, "resting_orders": _UINT,
            "fills": _UINT, "accepted": _UINT, "rejected": _UINT,
            "uptime_s": {"type": "number"},
            "group_commits": {"type": "object", "description": "group commits of more than "
                              "one request since start: how many, and their requests",
                              "properties": {"groups": _UINT, "requests": _UINT}},
            "stopped": {"type": ["string", "null"], "description": "why the sequencer refuses "
                        "requests (a failed journal write); null while it accepts them"},
            "batch": {"type": "object", "properties": {
                "slots": _UINT, "l1_slots": _UINT, "assets": _UINT,
                "time_limit": {"type": "number"}, "last_built": _UINT,
                "last_built_seq": _UINT, "unbatched_requests": _UINT}},
        },
    },
}

_ID = {"name": "id", "in": "path", "required": True, "schema": _UINT}

_SPEC = {
    "openapi": "3.1.0",
    "info": {
        "title": "zkderiv sequencer API",
        "version": "1",
        "description": "Signed requests in, receipts out; accounts, books, fills and status "
                       "of the off-chain state. A request is acknowledged (200) only once it "
                       "is in the sequencer's journal.",
    },
    "servers": [{"url": "http://127.0.0.1:8080"}],
    "paths": {
        "/v1/requests": {"post": {
            "operationId": "submitRequest",
            "summary": "Submit one signed request",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": _ref("SignedRequest")}}},
            "responses": {
                "200": _ok("Accepted, journaled and applied.", "Receipt"),
                **_ERRORS,
                "403": _error_response("BadSignature."),
                "404": _error_response("UnknownAccount, UnknownMarket, UnknownOrder."),
                "409": _error_response("StaleNonce, OrderIdReused."),
                "411": _error_response("Content-Length missing (or a chunked body)."),
                "413": _error_response("Body larger than the configured api.max_body."),
                "422": _error_response("Any other rejection by the engine: "
                                       "InsufficientMargin, InsufficientCollateral, Expired, "
                                       "InvalidRequest, NoLiquidity, PostOnlyWouldCross, ..."),
                "503": _error_response("JournalError: the request could not be journaled "
                                       "and was not applied."),
            }}},
        "/v1/requests/batch": {"post": {
            "operationId": "submitBatch",
            "summary": "Submit several signed requests, applied in order",
            "description": f"At most {MAX_BATCH} requests, each in the form of POST /v1/requests. "
                           "They are applied in the order given and journaled together (one "
                           "group commit), and the answer comes once they are on disk: one "
                           "entry per request, in order, with its index and the status the "
                           "single endpoint would have answered (a rejected request changes "
                           "nothing; the ones after it still go ahead). A malformed item "
                           "(not a valid request object) is answered in its place with status "
                           "400 and is not submitted; the others are. Requests from other "
                           "clients may be applied between batches, never inside one.",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"type": "array", "maxItems": MAX_BATCH,
                           "items": _ref("SignedRequest")}}}},
            "responses": {
                "200": {"description": "One entry per request, in order.",
                        "content": {"application/json": {"schema": {
                            "type": "array", "items": _ref("BatchItem")}}}},
                "400": _error_response("Malformed body: bad JSON (MalformedJSON), or not a "
                                       "JSON array (MalformedRequest)."),
                "411": _error_response("Content-Length missing (or a chunked body)."),
                "413": _error_response(f"More than {MAX_BATCH} requests (BatchTooLarge), or "
                                       "a body over the server's batch body limit "
                                       "(BodyTooLarge)."),
                "503": _error_response("JournalError: the batch could not be journaled and "
                                       "none of it was applied."),
            }}},
        "/v1/admin": {"post": {
            "operationId": "operatorAction",
            "summary": "The operator's actions after genesis: list a market or option series, "
                       "change the oracle key",
            "description": "Authorization: Bearer <token>, the token the running service "
                           "writes to DATA/admin.token (mode 0600, a new one each start; "
                           "`rollup sequencer list-asset` / `set-oracle-key` read it). The body "
                           "is a list_asset request (asset, kind 1 perp / 2 call / 3 put, "
                           "risk factors and fees in ppm, underlying, strike, expiry) or a "
                           "set_oracle_key request (pk: [x, y] or the packed key in hex; sig: "
                           "the current oracle key's signature over the new key, message "
                           "H(domain, 14, x, y, 0...), needed once a key is registered). "
                           "Journaled and applied like any request; batches prove both (an L1 "
                           "slot each).",
            "security": [{"operatorToken": []}],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"type": "object", "required": ["type"],
                           "properties": {"type": {"enum": ["list_asset", "set_oracle_key",
                                                            13, 14]}}}}}},
            "responses": {
                "200": _ok("Accepted, journaled and applied.", "Receipt"),
                **_ERRORS,
                "401": _error_response("Unauthorized: no or a wrong bearer token."),
                "404": _error_response("UnknownMarket (an option's underlying)."),
                "422": _error_response("InvalidRequest (already listed, factors out of range), "
                                       "Expired, UnsafeKey."),
                "503": _error_response("JournalError."),
            }}},
        "/v1/accounts/{id}": {"get": {
            "operationId": "getAccount",
            "summary": "Collateral, nonce, positions, open orders, margin",
            "parameters": [_ID],
            "responses": {"200": _ok("The account.", "Account"), **_ERRORS,
                          "404": _error_response("UnknownAccount.")}}},
        "/v1/books/{asset}": {"get": {
            "operationId": "getBook",
            "summary": "Order book depth (aggregated price levels)",
            "parameters": [{"name": "asset", "in": "path", "required": True, "schema": _UINT},
                           {"name": "depth", "in": "query", "schema": {
                               "type": "integer", "minimum": 1, "maximum": 1000,
                               "default": 50}}],
            "responses": {"200": _ok("Both sides, best first.", "Book"), **_ERRORS,
                          "404": _error_response("UnknownMarket.")}}},
        "/v1/fills": {"get": {
            "operationId": "getFills",
            "summary": "Fills after a fill id, oldest first",
            "parameters": [
                {"name": "since", "in": "query", "schema": {**_UINT, "default": 0},
                 "description": "return fills with id > since"},
                {"name": "limit", "in": "query", "schema": {
                    "type": "integer", "minimum": 1, "maximum": 10000, "default": 1000}},
                {"name": "account", "in": "query", "schema": _UINT,
                 "description": "only fills where this account is maker or taker"}],
            "responses": {"200": _ok("A page of fills.", "Fills"), **_ERRORS}}},
        "/v1/status": {"get": {
            "operationId": "getStatus",
            "summary": "State root, counts, batch progress",
            "responses": {"200": _ok("The sequencer's status.", "Status")}}},
        "/openapi.json": {"get": {
            "operationId": "getOpenApi",
            "summary": "This description",
            "responses": {"200": {"description": "OpenAPI 3.1 document.",
                                  "content": {"application/json": {
                                      "schema": {"type": "object"}}}}}}},
    },
    "components": {"schemas": _SCHEMAS, "securitySchemes": {
        "operatorToken": {"type": "http", "scheme": "bearer",
                          "description": "The token in DATA/admin.token."}}},
}


def spec() -> dict:
    return copy.deepcopy(_SPEC)
