"""A small listed venue (oracle key, one perpetual, a call and a put on it, their prices and
scenario rows, funded accounts) for tests, benchmarks and demos. Keys are derived from fixed
seeds: never use them for value."""

from __future__ import annotations

from functools import cache

from circuits import eddsa_public_key
from rollup.engine.sequencer import Sequencer
from rollup.margin.scenario import changed_rows
from rollup.state.encoding import KIND_CALL, KIND_PERP, KIND_PUT
from rollup.state.state import FEE_ACCOUNT, State
from rollup.transactions import (
    Deposit,
    Domain,
    ListAsset,
    OracleUpdate,
    Order,
    SetOracleKey,
    scenario_chunks,
)

DOMAIN = Domain(chain_id=31337, rollup_address=0x5FBDB2315678AFECB367F032D93F642F64180AA3)
PERP, CALL, PUT = 1, 2, 3
PERP_PRICE = 60_000  # collateral units per base unit
STRIKE = 60_000
EXPIRY = 1_000_000
ORACLE_KEY = b"oracle-seed".ljust(32, b"\0")


def key(i: int) -> bytes:
    return f"account-{i}".encode().ljust(32, b"\0")


@cache
def public_key(seed: bytes) -> tuple[int, int]:
    return eddsa_public_key(seed)


FAR = 10**9  # an expiry no test reaches
SOON = 3_600  # a cancel-all's expiry: within its bound (CANCEL_ALL_TTL) of a testnet's time


def order(acc: int, side: int, size: int, price: int, oid: int, asset: int = PERP,
          flags: int = 0, expiry: int = FAR) -> Order:
    """An order of test account `acc`, signed with its key for DOMAIN."""
    return Order(acc, asset, side, size, price, oid, expiry, flags).signed(key(acc), DOMAIN)


def oracle(cls, asset: int, value: int, t: int):
    """An oracle message (OracleUpdate, FundingTick, SettlementPrice) signed with ORACLE_KEY."""
    return cls(asset, value, t).signed(ORACLE_KEY, DOMAIN)


def rows_update(seq: Sequencer, t: int, signed: bool = True) -> list:
    """The oracle's scenario chunks for every asset whose rows changed at the state's prices
    (``rollup.margin.scenario.changed_rows``), at time t, submitted (signed with ORACLE_KEY)."""
    out = []
    for a, dv in changed_rows(seq.state).items():
        for chunk in scenario_chunks(a, t, dv):
            req = chunk.signed(ORACLE_KEY, DOMAIN) if signed else chunk
            seq.submit(req)
            out.append(req)
    return out


def venue(n_accounts: int = 4, deposit: int = 10**10, depth: int = 8, journal=None,
          verify=None, shared_key: bool = False, **options) -> Sequencer:
    """Accounts 1..n funded with ``deposit``; account 0 collects fees; oracle time 1, the
    assets' prices and scenario rows published.
    ``shared_key``: every account holds key(1) (key derivation is slow in pure Python);
    ``options``: the Sequencer's (matcher, defer_root, snapshot_every)."""
    seq = Sequencer(State(account_depth=depth), DOMAIN, journal=journal, verify=verify,
                    **options)
    seq.submit(SetOracleKey(public_key(ORACLE_KEY)))
    seq.submit(Deposit(FEE_ACCOUNT, public_key(key(0)), 0))
    seq.submit(ListAsset(PERP, KIND_PERP, risk_initial=50_000, risk_maintenance=30_000,
                         maker_fee=100, taker_fee=500, liquidation_fee=10_000))
    for asset, kind in ((CALL, KIND_CALL), (PUT, KIND_PUT)):
        seq.submit(ListAsset(asset, kind, risk_initial=100_000, risk_maintenance=50_000,
                             underlying=PERP, strike=STRIKE, expiry=EXPIRY,
                             short_initial=100_000, short_maintenance=60_000,
                             maker_fee=100, taker_fee=300, liquidation_fee=10_000))
    for i in range(1, n_accounts + 1):
        seq.submit(Deposit(i, public_key(key(1 if shared_key else i)), deposit))
    for asset, price in ((PERP, PERP_PRICE), (CALL, 3_000), (PUT, 2_500)):
        seq.submit(OracleUpdate(asset, price, 1).signed(ORACLE_KEY, DOMAIN))
    rows_update(seq, 1)
    return seq
