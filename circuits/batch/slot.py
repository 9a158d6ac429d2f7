"""One slot of the batch circuit (``slot``): type flags, ranges, the asset lookup, the two
account openings, the rules of every type, the oracle table, the L1 queue and payout record,
the signatures and the slot's public-data record. ``key_unusable`` is the native side of the
"key" component: why a packed key cannot hold an account, with the witness for it."""

from __future__ import annotations

from ..babyjubjub import A, D, P, _sqrt, mul
from ..gadgets import babyjubjub as g
from ..gadgets.bits import to_bits
from ..gadgets.comparators import is_zero
from ..gadgets.eddsa import eddsa_poseidon_verify
from ..gadgets.merkle import merkle_update
from ..gadgets.sha256 import sha256_bits
from ..lc import R, as_lc, lin, lsum
from ..merkle import sibling_count
from .account import Side
from .gadgets import (
    be,
    canonical_bits,
    const_bits,
    floor_div_ppm,
    gate,
    is_negative,
    lookup,
    mux,
    onehot,
    select_record,
    sign_bit,
    signed_bits,
    signed_message,
    small_order_free,
)
from .layout import (
    AMOUNT_BITS,
    DIFF_BYTES,
    DV_BITS,
    EMPTY_ORDERS_ROOT,
    NONCE_BITS,
    ORDER_ID_BITS,
    POSITION_SLOTS,
    POST_ONLY_BIT,
    PPM_BITS,
    PRICE_BITS,
    REDUCE_ONLY_BIT,
    REGISTRY_FIELDS,
    RISK_SCALE,
    SCENARIO_CHUNK,
    SCENARIO_UPDATE_CHUNKS,
    SCENARIOS,
    T_DEPOSIT,
    T_EXPIRY_SETTLEMENT,
    T_FORCED_WITHDRAWAL,
    T_FUNDING,
    T_LIQUIDATION,
    T_LIST_ASSET,
    T_ORACLE,
    T_ORDER,
    T_REFUND,
    T_SCENARIO,
    T_SET_ORACLE_KEY,
    T_SETTLEMENT_PRICE,
    T_TRADE,
    T_TRANSFER,
    T_WITHDRAWAL,
    TIME_BITS,
    TYPES,
)
from .tables import Tables, published


def slot(cs, v, p, depth, st, tables: Tables, domain, l1: bool, l1_bits, diff_bits):
    fl = {t: v[p + t] for t in TYPES}
    dep, wd, tr, trd, orc, fnd, spx, liq, xps, fwd, rfd, lst, okey, scn = (fl[t] for t in TYPES)
    opk = st["opk"]  # the oracle key as of this slot
    absent, easset = v[p + "absent"], v[p + "easset"]
    new, x = v[p + "new"], v[p + "asset"]
    amount, to, expiry, qty, price = (v[p + n] for n in ("amount", "to", "expiry", "qty",
                                                          "price"))
    index, otime, taker_buyer = v[p + "index"], v[p + "otime"], v[p + "taker_buyer"]
    time = st["time"]
    m = tables.m
    with cs.component("type"):
        for t in (*fl.values(), new, taker_buyer):
            cs.assert_bool(t)
        cs.assert_bool(lsum(list(fl.values()), cs))  # at most one type; none = no-op
        cs.constrain(new, 1 - dep, 0)  # only a deposit creates an account
        if not l1:
            cs.assert_zero(dep)
            cs.assert_zero(wd)
            cs.assert_zero(fwd)
            cs.assert_zero(rfd)
            cs.assert_zero(lst)
            cs.assert_zero(okey)
            cs.assert_zero(new)
            cs.assert_zero(absent)
        cs.assert_bool(absent)
        cs.constrain(absent, 1 - fwd, 0)  # only a forced withdrawal may name a missing account
        oracle_t = orc + fnd + spx + scn
        user_a = wd + tr + trd + liq  # A signs
        settle_a = wd + tr + trd + liq + xps
        two = tr + trd + liq  # B is another account
        pos_a = trd + liq + xps
        pos_b = trd + liq
    with cs.component("ranges"):
        amount_bits = to_bits(cs, amount, AMOUNT_BITS)
        to_bits_ = to_bits(cs, to, 160)
        qty_bits = to_bits(cs, qty, 64)
        price_bits = to_bits(cs, price, PRICE_BITS)
        otime_bits = to_bits(cs, otime, TIME_BITS)
        index_bits, _ = signed_bits(cs, index, 64)
        a_id_bits = to_bits(cs, v[p + "a_id"], depth)
        b_id_bits = to_bits(cs, v[p + "b_id"], depth)
        n_sib = sibling_count(depth)
        a_oid_bits = to_bits(cs, v[p + "a_oid"], ORDER_ID_BITS)
        b_oid_bits = to_bits(cs, v[p + "b_oid"], ORDER_ID_BITS)
        a_flag_bits = to_bits(cs, v[p + "a_flags"], 4)
        b_flag_bits = to_bits(cs, v[p + "b_flags"], 4)
        for n in ("a_size", "a_price", "b_size", "b_price", "expiry", "b_expiry"):
            to_bits(cs, v[p + n], 64)
        sel_x = onehot(cs, x, m)
        x_bits = to_bits(cs, x, max(1, (m - 1).bit_length()))
        # a scenario chunk: its index (one-hot) and rows, |dV| < 2**60, as 64-bit two's
        # complement for the record (the sign bit repeated above the 61 proven)
        chunk = v[p + "chunk"]
        e = onehot(cs, chunk, SCENARIO_UPDATE_CHUNKS)
        chunk_bits = to_bits(cs, chunk, 3)
        dv = [v[f"{p}dv{i}"] for i in range(SCENARIO_CHUNK)]
        dv_bits = []
        for x_ in dv:
            bits, neg = signed_bits(cs, x_, DV_BITS)
            dv_bits.append(bits[:-1] + [neg] * (64 - DV_BITS + 1))
    with cs.component("asset"):
        d = tables.derived(cs)
        xl = {n: lookup(cs, sel_x, d[n]) for n in ("price", "funding")}
        # X's scenario rows and group, and whether its rows are published
        xrow = [lookup(cs, sel_x, [r[s_] for r in tables.rows]) for s_ in range(SCENARIOS)]
        gx = [lookup(cs, sel_x, [gr[g_] for gr in tables.grp]) for g_ in range(tables.n_u)]
        has_x = lookup(cs, sel_x, tables.has)
        for n in ("perp", "call", "put"):
            xl[n] = lookup(cs, sel_x, getattr(tables, n))
        xl["listed"] = lookup(cs, sel_x, tables.avail)  # listed by now
        for n in ("strike", "expiry", "maker_fee", "taker_fee", "liquidation_fee"):
            xl[n] = lookup(cs, sel_x, tables.reg[n])
        for n in ("settlement", "settled"):
            xl[n] = lookup(cs, sel_x, tables.orc[n])
        # every type naming an asset names a listed one
        cs.constrain(pos_a + oracle_t, 1 - xl["listed"], 0)
    if l1:
        with cs.component("listing"):
            # a listing (operator action, L1 slots only) names an asset not listed before this
            # point and listed after the batch; an option's underlying is listed by now and its
            # expiry is in the future (the engine's rules)
            cs.constrain(lst, xl["listed"], 0)
            cs.constrain(lst, 1 - lookup(cs, sel_x, tables.listed), 0)
            option_x = cs.mul(lst, xl["call"] + xl["put"])
            under_avail = lsum([cs.mul(lookup(cs, sel_x, [row[j] for row in tables.under]),
                                       tables.avail[j]) for j in range(1, m)], cs)
            cs.constrain(option_x, 1 - under_avail, 0)
            to_bits(cs, cs.mul(option_x, xl["expiry"] - time - 1), TIME_BITS)
            for k in range(1, m):
                tables.avail[k] = tables.avail[k] + cs.mul(lst, sel_x[k])

    # -- accounts: open ------------------------------------------------------------------------
    with cs.component("account_a"):
        a = Side(cs, v, p + "a_", depth, d, sel_x, x, pos_a)
        for f_, empty in ((a.nonce, 0), (a.coll, 0), (a.orders, EMPTY_ORDERS_ROOT),
                          *((a.asset[j], 0) for j in range(POSITION_SLOTS)),
                          *((a.bal[j], 0) for j in range(POSITION_SLOTS)),
                          *((a.snap[j], 0) for j in range(POSITION_SLOTS))):
            cs.constrain(new, f_ - empty, 0)  # a created account starts empty
    with cs.component("account_b"):
        b = Side(cs, v, p + "b_", depth, d, sel_x, x, pos_b)
    # balance changes of X, and the requirement bounds of the sides a margin rule reads
    delta = cs.mul(qty, 1 - 2 * b.neg_t)  # a liquidation moves the position's sign
    d_bal_a = cs.mul(trd, qty) + cs.mul(liq, delta) - cs.mul(xps, a.b_t)
    d_bal_b = -cs.mul(trd, qty) - cs.mul(liq, delta)
    with cs.component("account_a"):
        a.scenario(tables, sel_x, d_bal_a, wd + tr + trd + liq + fwd, xrow, gx)
    with cs.component("account_b"):
        b.scenario(tables, sel_x, d_bal_b, trd + liq, xrow, gx)

    # -- type rules -------------------------------------------------------------------------------
    with cs.component("rules"):
        # expiries of user requests and orders
        to_bits(cs, cs.mul(user_a, v[p + "expiry"] - time), TIME_BITS)
        to_bits(cs, cs.mul(trd, v[p + "b_expiry"] - time), TIME_BITS)
        # amounts and sizes are positive
        cs.constrain(wd + tr, is_zero(cs, amount), 0)
        cs.constrain(trd + liq, is_zero(cs, qty), 0)
        cs.constrain(trd + liq, 1 - has_x, 0)  # a market trades once its rows are published
        same = is_zero(cs, v[p + "a_id"] - v[p + "b_id"])
        cs.constrain(two, same, 0)  # two distinct accounts
        cs.constrain(dep + wd + xps + fwd - absent, 1 - same, 0)  # single-account types
        # forced withdrawal (the contract checked a signature by the key the entry names over
        # the payee and amount): pays the requested amount to the entry's address when that key
        # is A's, the amount is in 1..2**64-1 and the account stays healthy after paying it (the
        # engine's debit rule), else pays 0 and changes nothing
        pay = paid = as_lc(0)
        if l1:
            # the entry's packed key (circomlib packPoint: y little-endian, bit 255 = sign of x)
            # as the integer K = key_hi * 2**128 + key_lo of its 32 bytes read big-endian
            kb = to_bits(cs, v[p + "key_lo"], 128) + to_bits(cs, v[p + "key_hi"], 128)
            y_bits = [kb[8 * (31 - (i >> 3)) + (i & 7)] for i in range(255)]
            sign = kb[7]
            yv = lin(((1 << i, b) for i, b in enumerate(y_bits)), cs)
            xk = canonical_bits(cs, a.pk[0])
            a_sign = sign_bit(cs, xk)
            # y is canonical for a forced withdrawal (asserted in "key"), so the entry names A's
            # key iff y and the sign of x agree: (y, sign) determines a point of the curve
            same_sign = 1 - sign - a_sign + 2 * cs.mul(sign, a_sign)
            key_is_a = cs.mul(is_zero(cs, yv - a.pk[1]), same_sign)
            fam_bits = to_bits(cs, v[p + "famount"], 128)
            fam_lo = lin(((1 << i, b) for i, b in enumerate(fam_bits[:64])), cs)
            fam_small = is_zero(cs, lin(((1 << i, b) for i, b in enumerate(fam_bits[64:])), cs))
            fam_pos = 1 - is_zero(cs, v[p + "famount"])
            # healthy after paying, on the exact requirement: no position moves, so the bounds
            # before and after must meet
            cs.constrain(fwd, a.r_up - a.r_lo, 0)
            healthy_paid = 1 - is_negative(cs, (a.value - fam_lo - a.r_up) * RISK_SCALE)
            cs.assert_bool(easset)
            ok = cs.mul(cs.mul(fam_small, fam_pos), cs.mul(healthy_paid, easset))
            # nothing from a missing account, in ETH, or when another key signed
            pay = cs.mul(cs.mul(fwd - absent, ok), key_is_a)
            paid = cs.mul(pay, fam_lo)
            requested = fam_lo + cs.mul(1 - fam_small, (1 << 64) - 1 - fam_lo)
            cs.constrain(dep + rfd, v[p + "famount"] - amount, 0)  # one amount in the entry
            cs.constrain(fwd + rfd, v[p + "to"] - v[p + "depositor"], 0)  # one address too
            cs.constrain(dep + fwd + wd, v[p + "eacc"] - v[p + "a_id"], 0)  # the account
            cs.constrain(dep, 1 - easset, 0)  # the state holds the collateral token only
        # trade: price within both limits and equal to the maker's (the engine trades at the
        # resting order's price: the seller's when the buyer takes, else the buyer's), ids >= 1,
        # option alive, fees
        to_bits(cs, cs.mul(trd, v[p + "a_price"] - price), PRICE_BITS)
        to_bits(cs, cs.mul(trd, price - v[p + "b_price"]), PRICE_BITS)
        maker_price = v[p + "a_price"] + cs.mul(taker_buyer, v[p + "b_price"] - v[p + "a_price"])
        cs.constrain(trd, price - maker_price, 0)
        cs.constrain(trd, is_zero(cs, v[p + "a_oid"]), 0)
        cs.constrain(trd, is_zero(cs, v[p + "b_oid"]), 0)
        option = xl["call"] + xl["put"]
        to_bits(cs, cs.mul(cs.mul(trd, option), xl["expiry"] - time - 1), TIME_BITS)
        notional = cs.mul(qty, price)
        rate_a = xl["maker_fee"] + cs.mul(taker_buyer, xl["taker_fee"] - xl["maker_fee"])
        rate_b = xl["taker_fee"] + xl["maker_fee"] - rate_a
        fee_a = floor_div_ppm(cs, cs.mul(cs.mul(trd, notional), rate_a), 64)
        fee_b = floor_div_ppm(cs, cs.mul(cs.mul(trd, notional), rate_b), 64)
        st["fees"] = st["fees"] + fee_a + fee_b
        # post-only orders never take; the taker is the buyer iff taker_buyer
        taker_post = a_flag_bits[POST_ONLY_BIT] + cs.mul(
            1 - taker_buyer, b_flag_bits[POST_ONLY_BIT] - a_flag_bits[POST_ONLY_BIT])
        cs.constrain(trd, taker_post, 0)
        cs.constrain(1 - trd, taker_buyer, 0)
        # liquidation: size <= |position| at the oracle price, delta takes the position's sign
        cs.constrain(liq, price - xl["price"], 0)
        to_bits(cs, cs.mul(liq, b.abs_t - qty), 64)
        penalty = floor_div_ppm(cs, cs.mul(cs.mul(liq, qty), cs.mul(price, xl["liquidation_fee"])),
                                64)
        # expiry settlement: a settled option held by A
        cs.constrain(xps, 1 - option, 0)
        cs.constrain(xps, 1 - xl["settled"], 0)
        cs.constrain(xps, is_zero(cs, a.b_t), 0)
        intrinsic_call = cs.mul(xl["settlement"] - xl["strike"],
                                1 - is_negative(cs, xl["settlement"] - xl["strike"], 66))
        intrinsic_put = cs.mul(xl["strike"] - xl["settlement"],
                               1 - is_negative(cs, xl["strike"] - xl["settlement"], 66))
        intrinsic = cs.mul(xl["call"], intrinsic_call) + cs.mul(xl["put"], intrinsic_put)
        payout = cs.mul(cs.mul(xps, a.b_t), intrinsic)
        payout_bits, _ = signed_bits(cs, payout, 96)
        # oracle messages: time monotonic; prices positive; funding for perps; settlement once,
        # after expiry
        to_bits(cs, cs.mul(oracle_t, otime - time), TIME_BITS)
        cs.constrain(orc, is_zero(cs, price), 0)
        cs.constrain(fnd, 1 - xl["perp"], 0)
        cs.constrain(spx, 1 - option, 0)
        cs.constrain(spx, xl["settled"], 0)
        to_bits(cs, cs.mul(spx, otime - xl["expiry"]), TIME_BITS)
        st["time"] = time + cs.mul(oracle_t, otime - time)
        # scenario chunk k: k = 0 starts an update; k > 0 continues the one in progress (same
        # asset and time, the next chunk); rows 5k..5k+4 go to the stage; the last chunk holds
        # row 25 alone and sets the asset's rows (docs/state.md, the engine's rule)
        stg = st["stage"]
        cont = cs.mul(scn, 1 - e[0])
        cs.constrain(cont, chunk - stg["next"], 0)
        cs.constrain(cont, x - stg["asset"], 0)
        cs.constrain(cont, otime - stg["time"], 0)
        w = [cs.mul(scn, e_) for e_ in e]
        fin = w[-1]
        for i in range(1, SCENARIO_CHUNK):
            cs.constrain(fin, dv[i], 0)
        rows = list(stg["rows"])
        for c in range(SCENARIO_UPDATE_CHUNKS):
            for i in range(SCENARIO_CHUNK):
                s_ = c * SCENARIO_CHUNK + i
                if s_ < SCENARIOS:
                    rows[s_] = rows[s_] + cs.mul(w[c], dv[i] - rows[s_])
        st["stage"] = {
            "asset": stg["asset"] + cs.mul(scn, x - stg["asset"]),
            "time": stg["time"] + cs.mul(scn, otime - stg["time"]),
            "next": stg["next"] + cs.mul(scn, chunk + 1 - SCENARIO_UPDATE_CHUNKS * e[-1]
                                         - stg["next"]),
            "rows": rows}
        nz = published(cs, rows)
        for k in range(1, m):
            fk = cs.mul(fin, sel_x[k])
            tables.rows[k] = [r + cs.mul(fk, n - r) for r, n in zip(tables.rows[k], rows,
                                                                      strict=True)]
            tables.has[k] = tables.has[k] + cs.mul(fk, nz - tables.has[k])

    # -- order trees, balances, collateral ------------------------------------------------------
    with cs.component("account_a"):
        a_orders = a.order_update(a_oid_bits, trd, qty, v[p + "a_size"])
        d_coll_a = (dep - wd - tr) * amount - paid - cs.mul(trd, notional) - fee_a \
            - cs.mul(liq, cs.mul(delta, price)) + penalty + payout
        a.finish(d_bal=d_bal_a, d_coll=d_coll_a, settle=settle_a + pay, nonce_inc=wd + tr + liq,
                 xl=xl, new_orders=a_orders)
        # a created account's old leaf is 0; a missing one stays 0
        old_leaf = cs.mul(1 - new - absent, a.old_leaf)
        new_leaf = cs.mul(1 - absent, a.new_leaf)
        _, st["root"] = merkle_update(cs, old_leaf, new_leaf,
                                      [v[f"{p}a_sib{k}"] for k in range(n_sib)], a_id_bits,
                                      old_root=st["root"], bits_checked=True)
    with cs.component("account_b"):
        b_orders = b.order_update(b_oid_bits, trd, qty, v[p + "b_size"])
        d_coll_b = tr * amount + cs.mul(trd, notional) - fee_b \
            + cs.mul(liq, cs.mul(delta, price)) - penalty
        b.finish(d_bal=d_bal_b, d_coll=d_coll_b, settle=two, nonce_inc=0, xl=xl,
                 new_orders=b_orders)
        _, st["root"] = merkle_update(cs, b.old_leaf, b.new_leaf,
                                      [v[f"{p}b_sib{k}"] for k in range(n_sib)], b_id_bits,
                                      old_root=st["root"], bits_checked=True)

    # -- margin -----------------------------------------------------------------------------------
    with cs.component("margin"):
        cs.constrain(wd + tr, 1 - a.healthy_after(), 0)
        cs.constrain(trd + liq, 1 - a.trade_allowed(), 0)
        cs.constrain(trd, 1 - b.trade_allowed(), 0)
        cs.constrain(liq, 1 - is_negative(cs, b.exm_before), 0)  # below maintenance before
        cs.constrain(liq, is_negative(cs, b.exm_after - b.exm_before - 1), 0)  # improved
        # reduce-only: the buyer ends at <= 0, the seller at >= 0 (so each reduced)
        cs.constrain(cs.mul(trd, a_flag_bits[REDUCE_ONLY_BIT]), cs.mul(1 - a.neg_nb, a.nz), 0)
        cs.constrain(cs.mul(trd, b_flag_bits[REDUCE_ONLY_BIT]), b.neg_nb, 0)

    # -- oracle table -----------------------------------------------------------------------------
    with cs.component("oracle"):
        o = tables.orc
        for k in range(1, m):
            hit = sel_x[k]
            o["price"][k] = o["price"][k] + cs.mul(cs.mul(hit, orc), price - o["price"][k])
            # a funding tick sets the index; a settlement price zeroes it and settles
            o["funding"][k] = o["funding"][k] + cs.mul(cs.mul(hit, fnd), index - o["funding"][k]) \
                - cs.mul(cs.mul(hit, spx), o["funding"][k])
            o["settlement"][k] = o["settlement"][k] + cs.mul(
                cs.mul(hit, spx), price - o["settlement"][k]) - cs.mul(
                cs.mul(hit, fnd), o["settlement"][k])
            o["settled"][k] = o["settled"][k] + cs.mul(cs.mul(hit, spx), 1 - o["settled"][k]) \
                - cs.mul(cs.mul(hit, fnd), o["settled"][k])

    # -- L1: queue and payout record --------------------------------------------------------------
    id32 = be(a_id_bits, 32, cs)
    bid32 = be(b_id_bits, 32, cs)
    l2key = None
    if l1:
        with cs.component("key"):
            # the entry's packed key, decomposed in "rules"
            l2key = be(kb, 256, cs)
            reasons = [v[p + "r_nc"], v[p + "r_nr"], v[p + "r_so"]]
            for r_ in reasons:
                cs.assert_bool(r_)
            r_any = lsum(reasons, cs)
            cs.constrain(r_any, 1 - rfd, 0)  # reasons only for a refund, and at most one
            cs.constrain(cs.mul(rfd, easset), 1 - r_any, 0)  # a token refund needs one
            # y canonical for a deposit, a forced withdrawal (the contract packs a checked key),
            # a new oracle key and the two reasons about the point
            g.assert_bits_le(cs, y_bits, R - 1, dep + fwd + okey + reasons[1] + reasons[2])
            g.assert_bits_ge(cs, y_bits, R, reasons[0])  # reason 1: y >= p
            y2 = cs.mul(yv, yv)
            num, den = 1 - y2, g.bj.A - g.bj.D * y2  # x^2 = num / den; den != 0 (a/d non-square)
            # reason 2: num/den is not a square: 5 (a non-square) * num / den is one
            kw = v[p + "kw"]
            cs.constrain(reasons[1], cs.mul(cs.mul(kw, kw), den) - 5 * num, 0)
            # reason 3: (x, y) on the curve and 8 (x, y) = identity (small order)
            kx = v[p + "kx"]
            cs.constrain(reasons[2], cs.mul(cs.mul(kx, kx), den) - num, 0)
            pt = g.select_point(cs, reasons[2], g.bj.BASE8, (kx, yv))
            p8 = g.double(cs, g.double(cs, g.double(cs, pt)))
            cs.constrain(reasons[2], p8[0], 0)
            cs.constrain(reasons[2], p8[1] - 1, 0)
            # a deposit's key is the credited account's: y and the sign of x
            small_order_free(cs, a.pk, new)
            cs.constrain(dep, yv - a.pk[1], 0)
            cs.constrain(dep, sign - a_sign, 0)
            # a new oracle key (kx, y): on the curve, not of small order, x's sign as packed
            small_order_free(cs, (kx, yv), okey)
            cs.constrain(okey, sign - sign_bit(cs, canonical_bits(cs, kx)), 0)
            st["opk"] = (opk[0] + cs.mul(okey, kx - opk[0]), opk[1] + cs.mul(okey, yv - opk[1]))

    # -- signatures -------------------------------------------------------------------------------
    with cs.component("signature"):
        a_id, b_id = v[p + "a_id"], v[p + "b_id"]
        mtype = wd * T_WITHDRAWAL + tr * T_TRANSFER + trd * T_ORDER + liq * T_LIQUIDATION \
            + orc * T_ORACLE + fnd * T_FUNDING + spx * T_SETTLEMENT_PRICE + scn * T_SCENARIO
        exp_a, nonce = v[p + "expiry"], a.nonce
        # an oracle-key change (L1 slots) is signed by the oracle key it replaces, over the new
        # key (x, y); only the first key (none registered: opk = (0, 0), x = 0 for no safe key)
        # goes unsigned
        okey_x, okey_y, okey_signed = [], [], 0
        if l1:
            mtype = mtype + okey * T_SET_ORACLE_KEY
            okey_x, okey_y = [(okey, kx)], [(okey, yv)]
            okey_signed = cs.mul(okey, 1 - is_zero(cs, opk[0]))
        fa = [
            mux(cs, [(user_a, a_id), (oracle_t, x), *okey_x]),
            mux(cs, [(wd, amount), (tr + liq, b_id), (trd, x), (orc + spx, price),
                      (fnd, index), (scn, chunk), *okey_y]),
            mux(cs, [(wd, to), (tr, amount), (liq, x), (oracle_t, otime)]),
            mux(cs, [(wd + tr, nonce), (trd, v[p + "a_size"]), (liq, qty), (scn, dv[0])]),
            mux(cs, [(wd + tr, exp_a), (trd, v[p + "a_price"]), (liq, nonce), (scn, dv[1])]),
            mux(cs, [(trd, v[p + "a_oid"]), (liq, exp_a), (scn, dv[2])]),
            mux(cs, [(trd, exp_a), (scn, dv[3])]),
            mux(cs, [(trd, v[p + "a_flags"]), (scn, dv[4])]),
        ]
        msg_a = signed_message(cs, domain, mtype, fa)
        oracle_k = oracle_t + (okey if l1 else 0)  # signed by the running oracle key
        key_a = (a.pk[0] + cs.mul(oracle_k, opk[0] - a.pk[0]),
                 a.pk[1] + cs.mul(oracle_k, opk[1] - a.pk[1]))
        eddsa_poseidon_verify(cs, key_a, msg_a, ((v[p + "sa_r8x"], v[p + "sa_r8y"]),
                                                 v[p + "sa_s"]), user_a + oracle_t + okey_signed)
        fb = [b_id, x, 1, v[p + "b_size"], v[p + "b_price"], v[p + "b_oid"], v[p + "b_expiry"],
              v[p + "b_flags"]]
        msg_b = signed_message(cs, domain, T_ORDER, fb)
        eddsa_poseidon_verify(cs, b.pk, msg_b, ((v[p + "sb_r8x"], v[p + "sb_r8y"]),
                                                v[p + "sb_s"]), trd)

    if l1:
        with cs.component("queue"):
            dep_bits = to_bits(cs, v[p + "depositor"], 160)
            eacc_bits = to_bits(cs, v[p + "eacc"], 32)
            # kind 1 (deposit or refunded deposit) or 2 (forced withdrawal) | asset | account id
            # (assigned by the contract) | depositor or payee | amount u128 | key
            entry = [cs.const(0)] * 6 + [as_lc(fwd), dep + rfd]
            entry += [cs.const(0)] * 7 + [as_lc(easset)]
            entry += be(eacc_bits, 32, cs) + be(dep_bits, 160, cs) + be(fam_bits, 128, cs)
            entry += [cs.mul(dep + rfd + fwd, b) for b in l2key]
            nxt = sha256_bits(cs, list(st["queue"]) + entry)
            st["queue"] = [q + cs.mul(dep + fwd + rfd, n - q)
                           for q, n in zip(st["queue"], nxt, strict=True)]
        with cs.component("l1_record"):
            out_bits = to_bits(cs, (wd + rfd) * amount + paid, 64)
            asset_bit = wd + pay + cs.mul(rfd, easset)
            rec = be(eacc_bits, 32, cs) + [cs.const(0)] * 7 + [asset_bit] \
                + be(to_bits_, 160, cs) + be(out_bits, 128, cs)
            l1_bits += gate(cs, wd + pay + rfd, rec)

    # -- public data ------------------------------------------------------------------------------
    with cs.component("public_data"):
        u64 = lambda bits: be(bits, 64, cs)  # noqa: E731
        x16 = be(x_bits, 16, cs)
        nonce32 = be(to_bits(cs, a.nonce, NONCE_BITS), 32, cs)
        records = [
            (wd, const_bits(cs, T_WITHDRAWAL, 8) + id32 + u64(amount_bits) + be(to_bits_, 160, cs)
             + nonce32),
            (tr, const_bits(cs, T_TRANSFER, 8) + id32 + bid32 + u64(amount_bits) + nonce32),
            (trd, const_bits(cs, T_TRADE, 8) + id32 + bid32 + x16 + u64(qty_bits)
             + u64(price_bits) + u64(a_oid_bits) + u64(b_oid_bits)
             + [cs.const(0)] * 7 + [as_lc(taker_buyer)]),  # fees follow from it (layout)
            (fnd, const_bits(cs, T_FUNDING, 8) + x16 + u64(index_bits) + u64(otime_bits)),
            (orc, const_bits(cs, T_ORACLE, 8) + x16 + u64(price_bits) + u64(otime_bits)),
            (spx, const_bits(cs, T_SETTLEMENT_PRICE, 8) + x16 + u64(price_bits)
             + u64(otime_bits)),
            (liq, const_bits(cs, T_LIQUIDATION, 8) + id32 + bid32 + x16
             + u64(signed_bits(cs, delta, 64)[0]) + u64(price_bits)
             + u64(to_bits(cs, penalty, 64)) + nonce32),
            (xps, const_bits(cs, T_EXPIRY_SETTLEMENT, 8) + id32 + x16 + be(payout_bits, 96, cs)),
            (scn, const_bits(cs, T_SCENARIO, 8) + x16 + be(chunk_bits, 8, cs) + u64(otime_bits)
             + [b_ for bits in dv_bits for b_ in be(bits, 64, cs)]),
        ]
        if l1:
            records.append((fwd, const_bits(cs, T_FORCED_WITHDRAWAL, 8) + id32
                            + u64(to_bits(cs, requested, 64)) + u64(to_bits(cs, paid, 64))
                            + be(to_bits_, 160, cs)))
            records.append((dep, const_bits(cs, T_DEPOSIT, 8) + id32 + l2key
                            + u64(amount_bits)))
            records.append((rfd, const_bits(cs, T_REFUND, 8) + be(eacc_bits, 32, cs)
                            + [cs.const(0)] * 7 + [as_lc(easset)] + be(to_bits_, 160, cs)
                            + u64(amount_bits)))
            # a listing publishes the registry entry it adds (the engine's T_LIST_ASSET record)
            # the asset component looked up some of the fields already
            entry = {n: xl[n] if n in xl else lookup(cs, sel_x, tables.reg[n])
                     for n in REGISTRY_FIELDS}
            listing = const_bits(cs, T_LIST_ASSET, 8) + x16 \
                + be(to_bits(cs, entry["kind"], 8), 8, cs) \
                + be(to_bits(cs, entry["underlying"], 16), 16, cs) \
                + u64(to_bits(cs, entry["strike"], 64)) + u64(to_bits(cs, entry["expiry"], 64))
            for n in REGISTRY_FIELDS[4:]:
                listing += be(to_bits(cs, entry[n], PPM_BITS), 32, cs)
            records.append((lst, listing))
            records.append((okey, const_bits(cs, T_SET_ORACLE_KEY, 8) + l2key))
        if max(len(bits) for _, bits in records) > 8 * DIFF_BYTES:
            raise ValueError("a record is longer than DIFF_BYTES")
        diff_bits += select_record(cs, records, 8 * DIFF_BYTES)


def key_unusable(key: bytes) -> tuple[str, int] | None:
    """Why a packed key cannot hold an account, with the circuit's witness for it, or None for a
    usable key: ("r_nc", 0) y >= p; ("r_nr", w) x^2 = num/den has no root (w^2 = 5 num/den);
    ("r_so", x) the point has small order."""
    y = int.from_bytes(key, "little") & ((1 << 255) - 1)
    if y >= P:
        return "r_nc", 0
    u = (1 - y * y) * pow(A - D * y * y, -1, P) % P
    x = _sqrt(u)
    if x is None:
        return "r_nr", _sqrt(5 * u % P)
    if mul((x, y), 8) == (0, 1):
        return "r_so", x
    return None
