"""rollup.chain.node: the embedded chain, the Anvil launcher, --rpc, and precompile pricing."""

from __future__ import annotations

import socket

import pytest
from py_ecc.optimized_bn128 import G1, G2, neg, normalize

from rollup.chain import node
from rollup.chain.contracts import call, deploy, transact
from rollup.chain.errors import ChainError, ContractRevert

needs_anvil = pytest.mark.skipif(node.anvil_path() is None, reason="anvil is not installed")


def _port_open(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, int(port))) == 0


@needs_anvil
def test_anvil_starts_on_localhost_and_stops():
    with node.AnvilNode() as n:
        assert n.url.startswith("http://127.0.0.1:")
        assert _port_open(n.url)
        proc = n.proc
        with node.rpc(n.url) as ch:  # --rpc URL: any node
            assert ch.kind == "rpc" and ch.w3.eth.chain_id == 31337 and len(ch.accounts) == 10
    assert proc.poll() is not None and not _port_open(n.url)
    assert proc not in node._live


@needs_anvil
def test_two_anvils_get_different_ports_and_close_with_the_chain():
    with node.anvil() as a, node.anvil() as b:
        assert a.url != b.url
        procs = [p for p in node._live]
        assert len(procs) >= 2
    assert all(p.poll() is not None for p in procs)


def test_connect_rejects_unknown_spec():
    with pytest.raises(ChainError):
        node.connect("ftp://nowhere")


def test_rpc_unreachable_is_a_chain_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ChainError):
        node.rpc(f"http://127.0.0.1:{port}")


def _pairing_input() -> bytes:
    """e(G1, G2) * e(-G1, G2) = 1: two pairs in EIP-197 encoding (G2 imaginary part first)."""
    out = b""
    for p in (normalize(G1), normalize(neg(G1))):
        (qx, qy) = normalize(G2)
        words = [int(p[0]), int(p[1]), qx.coeffs[1], qx.coeffs[0], qy.coeffs[1], qy.coeffs[0]]
        out += b"".join(int(w).to_bytes(32, "big") for w in words)
    return out


@pytest.mark.parametrize("kind", ["py-evm", pytest.param("anvil", marks=needs_anvil)])
def test_precompiles_priced_by_eip1108(kind):
    """A transaction straight to 0x08 with two pairs costs 21,000 + calldata + 45,000 +
    2 * 34,000, and to 0x07 the EIP-1108 6,000."""
    with (node.embedded() if kind == "py-evm" else node.anvil()) as ch:
        w3 = ch.w3

        def cost(to: int, data: bytes) -> int | None:
            """Execution gas of a call to precompile `to`. Prague's calldata floor (EIP-7623:
            at least 21,000 + 10 per token, tokens = zero bytes + 4 * other bytes) can exceed
            the standard charge for cheap calls, so the expected gasUsed is the larger one."""
            tx = {"from": ch.accounts[0], "to": "0x" + to.to_bytes(20, "big").hex(),
                  "data": data, "gas": 500_000}
            r = w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(tx))
            assert r.status == 1
            zeros = data.count(0)
            calldata = 4 * zeros + 16 * (len(data) - zeros)
            execution = r.gasUsed - 21_000 - calldata
            floor = 21_000 + 10 * (zeros + 4 * (len(data) - zeros))
            return execution if r.gasUsed > floor else None

        pair = _pairing_input()
        assert w3.eth.call({"to": "0x" + "00" * 19 + "08", "data": pair})[-1] == 1
        assert cost(8, pair) == 45_000 + 2 * 34_000
        g = b"".join(int(c).to_bytes(32, "big") for c in normalize(G1))
        assert cost(7, g + (5).to_bytes(32, "big")) == 6_000
        # ecAdd (150) cannot be isolated this way: 128 bytes of calldata put a direct call
        # under the EIP-7623 floor. The verifier's gas, equal on both chains, covers it.
        assert cost(6, g + g) is None


def test_revert_is_typed_with_reason():
    with node.embedded() as ch:
        tok = deploy(ch, "TestToken")
        with pytest.raises(ContractRevert) as ei:
            call(tok.functions.transfer(ch.accounts[1], 1), sender=ch.accounts[0])
        assert ei.value.name == "Panic" and ei.value.args_ == (0x11,)
        # mined with status 0 (explicit gas skips simulation), reason recovered by replay
        with pytest.raises(ContractRevert) as ei:
            transact(ch, tok.functions.transfer(ch.accounts[1], 1), gas=100_000)
        assert ei.value.name == "Panic"
        # and through gas estimation
        with pytest.raises(ContractRevert):
            transact(ch, tok.functions.transfer(ch.accounts[1], 1))


def test_embedded_gas_limit_can_be_raised():
    with node.embedded(gas_limit=60_000_000) as ch:
        assert ch.w3.eth.get_block("latest")["gasLimit"] == 60_000_000


def test_time_travel_embedded():
    with node.embedded() as ch:
        t0 = ch.timestamp()
        ch.increase_time(3600)
        assert ch.timestamp() >= t0 + 3600
