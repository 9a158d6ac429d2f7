"""Property tests over the API's request types: every field of every type accepts exactly its
bounds (as a number or a decimal / 0x-hex string) and refuses the rest, unknown fields and wrong
JSON types, each with a 400 code that says which kind of input was wrong."""

from __future__ import annotations

import dataclasses
import json

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circuits import eddsa_public_key
from rollup.api import codec
from rollup.api import types as W

TYPES = W.SIGNED_TYPES + W.ADMIN_TYPES
SIG = [[1, 2], 3]
REAL_KEY = eddsa_public_key(b"k" * 32)


def valid(cls: type[W.WireRequest]) -> dict:
    """A request of this type with every field at its lower bound (and a signature)."""
    out: dict = {"type": W.type_names(cls)[1]}
    for name, b in cls._BOUNDS.items():
        out[name] = b.lo
    if "sig" in cls.__struct_fields__:
        out["sig"] = SIG
    if cls is W.SetOracleKey:
        out["pk"] = [str(c) for c in REAL_KEY]
    return out


def decode(cls, obj: dict):
    table = codec.ADMIN if cls in W.ADMIN_TYPES else codec.SIGNED
    return codec.decode_request(json.dumps(obj).encode(), table=table,
                                require_sig=cls not in W.ADMIN_TYPES)


FIELDS = [(cls, name) for cls in TYPES for name in cls._BOUNDS]


def test_every_request_field_is_bounded_and_matches_the_engines_request():
    for cls in TYPES:
        names = {f.name for f in dataclasses.fields(cls.REQUEST)}
        assert set(cls.__struct_fields__) == names | {"type"}, cls
        assert set(cls._BOUNDS) | {"type", "sig", "pk"} >= set(cls.__struct_fields__), cls
        req = decode(cls, valid(cls))
        assert type(req) is cls.REQUEST


@pytest.mark.parametrize("cls,name", FIELDS, ids=[f"{c.__name__}.{n}" for c, n in FIELDS])
@settings(max_examples=12)  # per field: about 50 fields
@given(data=st.data())
def test_a_field_takes_exactly_its_bounds(cls, name, data):
    b = cls._BOUNDS[name]
    v = data.draw(st.integers(b.lo, b.hi), label="inside")
    form = data.draw(st.sampled_from(["int", "dec", "hex"]), label="form")
    text = v if form == "int" else str(v) if form == "dec" else (
        f"-0x{-v:x}" if v < 0 else f"0x{v:x}")
    req = decode(cls, {**valid(cls), name: text})
    assert getattr(req, name) == v
    out = data.draw(st.one_of(st.integers(b.hi + 1, b.hi + 2**300),
                              st.integers(b.lo - 2**300, b.lo - 1)), label="outside")
    for bad in (out, str(out)):
        with pytest.raises(codec.BadInput) as exc:
            decode(cls, {**valid(cls), name: bad})
        assert exc.value.code == "MalformedRequest" and name in str(exc.value)


WRONG = st.one_of(st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: x != int(x)),
                  st.booleans(), st.none(), st.lists(st.integers(), max_size=2),
                  st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                  st.text(max_size=12).filter(lambda s: not s.strip().lstrip("-").isdigit()
                                              and not s.lower().lstrip("-").startswith("0x")))


@pytest.mark.parametrize("cls", TYPES, ids=[c.__name__ for c in TYPES])
@given(data=st.data())
def test_wrong_types_unknown_and_missing_fields_are_malformed(cls, data):
    names = sorted(cls._BOUNDS) or ["pk"]
    name = data.draw(st.sampled_from(names), label="field")
    bad = data.draw(WRONG, label="value")
    with pytest.raises(codec.BadInput) as exc:
        decode(cls, {**valid(cls), name: bad})
    assert exc.value.code == "MalformedRequest"
    extra = data.draw(st.text(min_size=1, max_size=8).filter(
        lambda k: k not in cls.__struct_fields__), label="unknown")
    with pytest.raises(codec.BadInput) as exc:
        decode(cls, {**valid(cls), extra: 1})
    assert exc.value.code == "MalformedRequest" and "unknown field" in str(exc.value)
    required = [f.encode_name for f in msgspec.structs.fields(cls)
                if f.required and f.name != "type"]
    gone = data.draw(st.sampled_from(required), label="missing")
    with pytest.raises(codec.BadInput) as exc:
        decode(cls, {k: v for k, v in valid(cls).items() if k != gone})
    assert exc.value.code == "MalformedRequest" and gone in str(exc.value)


def test_types_and_signatures():
    order = valid(W.Order)
    for t, code in [(99, "UnknownType"), ("nope", "UnknownType"), (1, "UnsignedType"),
                    (13, "UnsignedType"), ("list_asset", "UnknownType"), (True, "MalformedRequest"),
                    (4.0, "MalformedRequest"), (None, "MalformedRequest")]:
        with pytest.raises(codec.BadInput) as exc:
            codec.decode_request(json.dumps({**order, "type": t}).encode())
        assert exc.value.code == code, t
    with pytest.raises(codec.BadInput) as exc:  # a trader's type on the operator's endpoint
        codec.decode_request(json.dumps(order).encode(), table=codec.ADMIN)
    assert exc.value.code == "UnknownType"
    with pytest.raises(codec.BadInput) as exc:
        codec.decode_request(json.dumps({**order, "type": 4}).encode(), table=codec.ADMIN)
    assert exc.value.code == "SignedType"
    with pytest.raises(codec.BadInput) as exc:
        codec.decode_request(json.dumps({**order, "sig": None}).encode())
    assert exc.value.code == "MissingSignature"
    assert codec.decode_request(json.dumps({**order, "sig": None}).encode(),
                                require_sig=False).sig is None
    for sig in ([1, 2, 3], [[1, "x"], 2], [[1, 2]], [[1, 2], -1], [[1, 2], 1 << 256], "sig"):
        with pytest.raises(codec.BadInput) as exc:
            codec.decode_request(json.dumps({**order, "sig": sig}).encode())
        assert exc.value.code == "MalformedRequest", sig
    req = codec.decode_request(json.dumps({**order, "sig": [["0x1", "2"], "0X3"]}).encode())
    assert req.sig == ((1, 2), 3)


def test_set_oracle_key_takes_a_point_or_its_packed_form():
    from rollup.keys import compress

    req = decode(W.SetOracleKey, {"type": 14, "pk": [str(REAL_KEY[0]), hex(REAL_KEY[1])]})
    assert req.pk == REAL_KEY
    assert decode(W.SetOracleKey, {"type": 14, "pk": compress(REAL_KEY)}).pk == REAL_KEY
    with pytest.raises(codec.BadInput):
        decode(W.SetOracleKey, {"type": 14, "pk": "ab" * 31})


@pytest.mark.adversarial
@pytest.mark.parametrize("pt", [(1, 2), (0, 0), (0, 1), (5, 6)])
def test_set_oracle_key_refuses_unsafe_points_at_the_door(pt):
    """Off the curve, (0, 0) (the state's "no key registered") and the identity (small order)
    are a 400 naming pk, as the engine would refuse them (UnsafeKey)."""
    with pytest.raises(codec.BadInput) as exc:
        decode(W.SetOracleKey, {"type": 14, "pk": [str(pt[0]), str(pt[1])]})
    assert exc.value.code == "MalformedRequest" and "pk" in str(exc.value)


def test_batch_bodies():
    one = json.dumps(valid(W.Order))
    got = codec.decode_batch(f"[{one}, 7, {{}}, {one}]".encode())
    assert [type(x).__name__ for x in got] == ["Order", "BadInput", "BadInput", "Order"]
    for body, code in [(b"{not json", "MalformedJSON"), (b"{}", "MalformedRequest"),
                       (b"[" * 200_000 + b"]" * 200_000, "MalformedJSON")]:
        with pytest.raises(codec.BadInput) as exc:
            codec.decode_batch(body)
        assert exc.value.code == code, body[:10]
    with pytest.raises(codec.ApiError) as exc:
        codec.decode_batch(("[" + ",".join(["1"] * (codec.MAX_BATCH + 1)) + "]").encode())
    assert (exc.value.status, exc.value.code) == (413, "BatchTooLarge")


@st.composite
def _order_item(draw) -> object:
    """A batch item: mostly orders (valid ones in every integer form), some malformed or of
    another type."""
    kind = draw(st.sampled_from(["order"] * 6 + ["other", "bad_field", "no_sig", "unknown",
                                                  "not_object", "wrong_type", "type_name"]))
    if kind == "other":
        return valid(draw(st.sampled_from([c for c in W.SIGNED_TYPES if c is not W.Order])))
    if kind == "not_object":
        return draw(st.sampled_from([7, "order", None, [], [1, 2]]))
    item = valid(W.Order)
    item["type"] = draw(st.sampled_from([4, "order"]))
    for name, b in W.Order._BOUNDS.items():
        v = draw(st.integers(b.lo, min(b.hi, 2**70)))
        item[name] = draw(st.sampled_from([v, str(v), hex(v)]))
    if kind == "bad_field":
        name = draw(st.sampled_from(sorted(W.Order._BOUNDS)))
        item[name] = draw(st.sampled_from([-1, W.U256 + 1, 1.5, True, "12x", [1]]))
    elif kind == "no_sig":
        item.pop("sig") if draw(st.booleans()) else item.update(sig=None)
    elif kind == "unknown":
        item["extra"] = 1
    elif kind == "wrong_type":
        item["type"] = draw(st.sampled_from([5, "orders", 4.0, None]))
    return item


def _outcome(fn, body: bytes):
    """What decoding gives, comparable across the two paths."""
    try:
        got = fn(body)
    except codec.ApiError as exc:
        return ("raised", type(exc).__name__, exc.status, exc.code, str(exc))
    return [(type(x).__name__, x.code, str(x)) if isinstance(x, codec.BadInput) else x
            for x in got]


@settings(max_examples=150)
@given(st.data())
def test_batch_fast_path_equals_the_item_by_item_path(data):
    """``decode_batch`` (one typed pass for a body of signed orders) gives exactly what
    ``decode_items`` gives, request for request and error for error, on random batches of
    valid and malformed items; and it takes the one-pass path whenever every item is a valid
    signed order."""
    items = data.draw(st.lists(_order_item(), max_size=12))
    body = json.dumps(items).encode()
    got = _outcome(codec.decode_batch, body)
    assert got == _outcome(codec.decode_items, body)
    all_orders = isinstance(got, list) and all(type(x).__name__ == "Order" for x in got)
    assert (codec._signed_orders(body, codec.MAX_BATCH) is not None) == all_orders


def test_batch_fast_path_on_bodies_that_are_not_arrays_of_orders():
    one = json.dumps(valid(W.Order))
    bodies = [b"", b"{not json", b"{}", b"[]", f"[{one}".encode(), f"[{one}] x".encode(),
              f"[{one}, {one}]".encode(), b"[" * 100_000 + b"]" * 100_000,
              ("[" + ",".join([one] * (codec.MAX_BATCH + 1)) + "]").encode()]
    for body in bodies:
        assert _outcome(codec.decode_batch, body) == _outcome(codec.decode_items, body)
    many = ("[" + ",".join([one] * 3) + "]").encode()
    assert len(codec._signed_orders(many, 3)) == 3
    assert codec._signed_orders(many, 2) is None  # over the limit: the item path's 413
    assert _outcome(lambda b: codec.decode_batch(b, limit=2), many)[:4] == \
        ("raised", "ApiError", 413, "BatchTooLarge")
