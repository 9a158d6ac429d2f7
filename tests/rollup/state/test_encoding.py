from circuits import poseidon
from circuits.gadgets import signed
from rollup.engine import testnet
from rollup.margin.scenario import perp_row
from rollup.state.encoding import ORDER_TREE_DEPTH, POSITION_SLOTS
from rollup.state.tree import SparseMerkleTree
from rollup.transactions import (
    RECORDS,
    T_LIQUIDATION,
    T_TRADE,
    Domain,
    Order,
    decode_record,
    decode_records,
    encode_record,
    record_size,
)


def test_state_root_formula():
    seq = testnet.venue(n_accounts=2)
    st = seq.state
    acc = st.accounts[1]
    assert len(acc.positions) == POSITION_SLOTS
    # positions root = H16(words, snapshots), word = enc(asset + 2**8 * balance)
    words = [signed.encode(a + 256 * b) for a, b, _ in acc.positions]
    snaps = [signed.encode(s) for _, _, s in acc.positions]
    empty_orders = SparseMerkleTree(ORDER_TREE_DEPTH).root
    leaf = poseidon([*acc.pk, acc.nonce, signed.encode(acc.collateral), poseidon(words + snaps),
                     empty_orders])
    assert st.account_tree.leaf(1) == leaf
    # the venue publishes every asset's scenario rows: H2(H13(enc dV[0..12]), H13(enc dV[13..25]))
    def rows_hash(rows):
        enc = [signed.encode(x) for x in rows]
        return poseidon([poseidon(enc[:13]), poseidon(enc[13:])])

    perp_rows = perp_row(testnet.PERP_PRICE)
    assert st.oracle[testnet.PERP].rows == tuple(perp_rows) and any(perp_rows)
    oracle_leaf = poseidon([testnet.PERP_PRICE, 0, 0, 0, rows_hash(perp_rows)])
    assert st.oracle_tree.leaf(testnet.PERP) == oracle_leaf
    # the last update (the put's, at oracle time 1) is complete: next chunk 0, its rows kept
    stage = poseidon([testnet.PUT, 1, 0, rows_hash(st.oracle[testnet.PUT].rows)])
    glob = poseidon([st.time, st.oracle_tree.root, *st.oracle_pk, stage])
    assert st.root == poseidon([st.account_tree.root, st.registry_tree.root, glob])
    assert st.root == st.recompute_root()
    leaf_1, sib = st.account_proof(1)
    from rollup.state import verify_proof
    assert verify_proof(st.account_tree.root, 1, leaf_1, sib)


def test_scenario_rows_in_the_oracle_leaf():
    """The rows hash H2(H13(enc dV[0..12]), H13(enc dV[13..25])), signed rows as v mod r."""
    from dataclasses import replace

    from rollup.margin.scenario import perp_row
    from rollup.state.state import OracleEntry

    rows = tuple(perp_row(60_000))
    enc = [signed.encode(x) for x in rows]
    o = replace(OracleEntry(60_000), rows=rows)
    assert o.fields()[4] == poseidon([poseidon(enc[:13]), poseidon(enc[13:])])


def test_the_engine_and_the_circuits_share_the_scenario_layout():
    from circuits import batch
    from rollup.state import encoding as enc

    assert (batch.SCENARIOS, batch.SCENARIO_CHUNK, batch.DV_BITS) == (
        enc.SCENARIOS, enc.SCENARIO_CHUNK, enc.DV_BITS) == (26, 5, 61)
    assert batch.SCENARIO_UPDATE_CHUNKS == enc.SCENARIO_UPDATE_CHUNKS == 6


def test_the_engine_and_the_circuits_share_the_order_tree():
    """One order tree: the state's depth is the batch circuit's (an account rests at most one
    order per slot, 2**depth of them)."""
    from circuits import batch
    from rollup.engine.orders import ORDER_SLOTS

    assert batch.ORDER_TREE_DEPTH == ORDER_TREE_DEPTH == 12 and ORDER_SLOTS == 4096
    assert batch.EMPTY_ORDERS_ROOT == SparseMerkleTree(ORDER_TREE_DEPTH).root


def test_the_engine_and_the_circuits_share_the_positions_root():
    """One word layout: asset ids in the low ASSET_BITS, the balance above them, and the empty
    positions root the fee account must hold is the engine's."""
    from circuits import batch
    from rollup.state import encoding as enc
    from rollup.state.state import Account, State

    assert batch.ASSET_BITS == enc.ASSET_BITS == 8 and batch.ASSET_DEPTH == enc.ASSET_DEPTH
    assert batch.EMPTY_POSITIONS_ROOT == State(4).positions_root(Account((0, 0)))
    # one-to-one on the proven ranges: (asset, balance) and (asset + 256, balance - 1) would
    # share a word, which is why every opening proves asset < 256
    assert enc.position_word(3, -1) == enc.position_word(3 + 256, -2)
    words = {enc.position_word(a, b) for a in (0, 1, 255) for b in (-(1 << 63), -1, 0, 1,
                                                                       (1 << 63) - 1)}
    assert len(words) == 15


def test_negative_values_as_field_elements():
    seq = testnet.venue(n_accounts=2)
    acc = seq.state.accounts[1].copy()
    acc.collateral = -5
    acc.positions[0] = (1, -7, -3)
    words = [1 + 256 * (signed.R - 7)] + [0] * 7
    snaps = [signed.R - 3] + [0] * 7
    assert seq.state.positions_root(acc) == poseidon([w % signed.R for w in words] + snaps)


def test_records_fixed_size_and_roundtrip():
    rec = encode_record(T_TRADE, buyer=1, seller=2, asset=1, size=5, price=60000, buyer_order=9,
                        seller_order=10, taker_buyer=1)
    assert len(rec) == record_size(T_TRADE) == 1 + 4 + 4 + 2 + 8 * 4 + 1
    assert decode_record(rec)[1]["taker_buyer"] == 1
    assert rec[1:5] == (1).to_bytes(4, "big")
    liq = encode_record(T_LIQUIDATION, liquidator=1, liquidated=2, asset=1, size=-3, price=7,
                        penalty=1, nonce=0)
    t, fields, n = decode_record(liq)
    assert t == T_LIQUIDATION and fields["size"] == -3 and n == len(liq)
    assert [r[0] for r in decode_records(rec + liq)] == [T_TRADE, T_LIQUIDATION]
    for tx_type in RECORDS:
        assert record_size(tx_type) > 1


def test_message_domain_separation():
    o = Order(1, 1, 0, 10, 100, 1, 10)
    a = o.message(Domain(1, 0xAA))
    assert a != o.message(Domain(2, 0xAA))
    assert a != o.message(Domain(1, 0xAB))
    assert a != Order(1, 1, 0, 10, 100, 2, 10).message(Domain(1, 0xAA))
