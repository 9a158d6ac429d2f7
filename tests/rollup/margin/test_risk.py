"""The one-pass margin helpers equal the rule's definitions on random accounts, and the rule's
requirement is ``rollup.margin.scenario``'s reference on the rows the state holds."""

from hypothesis import given, settings
from hypothesis import strategies as st

from rollup.engine import testnet as tn
from rollup.margin.risk import (
    account_risk,
    account_value,
    allowed,
    trade_allowed,
    value_and_risk,
)
from rollup.margin.scenario import MAINTENANCE_PPM, published_table, requirement
from rollup.state.state import EMPTY_SLOT, Account

SEQ = tn.venue(n_accounts=1)
slot = st.one_of(st.just(EMPTY_SLOT),
                 st.tuples(st.sampled_from([tn.PERP, tn.CALL, tn.PUT]),
                           st.integers(-10**6, 10**6).filter(bool), st.integers(-500, 500)))
account = st.builds(lambda c, slots: Account((1, 2), 0, c, slots),
                    st.integers(-10**12, 10**12), st.lists(slot, min_size=8, max_size=8))


@settings(max_examples=60, deadline=None)
@given(account, account)
def test_one_pass_helpers_equal_definitions(a, b):
    s = SEQ.state
    for m in (False, True):
        assert value_and_risk(s, a, m) == (account_value(s, a), account_risk(s, a, m))
        r = requirement(a.positions, published_table(s))
        assert account_risk(s, a, m) == (MAINTENANCE_PPM if m else 10**6) * r
    assert allowed(*value_and_risk(s, a), *value_and_risk(s, b)) == trade_allowed(s, a, b)
