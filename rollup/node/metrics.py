"""The node's Prometheus metrics (one registry, served at /metrics by ``serve``).

Latencies: ack (request in -> receipt out, the API), batch close -> proof, proof -> finalized.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

REGISTRY = CollectorRegistry()
_S = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
_L = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800)

ACK = Histogram("rollup_ack_seconds", "Request received -> receipt sent (API).", buckets=_S,
                registry=REGISTRY)
BUILD_SECONDS = Histogram("rollup_batch_build_seconds", "Witness building per batch.",
                          buckets=_L, registry=REGISTRY)
PROVE_SECONDS = Histogram("rollup_prove_seconds", "Proving per batch (worker time).",
                          buckets=_L, registry=REGISTRY)
PROVE_LATENCY = Histogram("rollup_close_to_proof_seconds", "Batch closed -> proof written.",
                          buckets=_L, registry=REGISTRY)
FINALIZE_LATENCY = Histogram("rollup_proof_to_finalized_seconds",
                             "Proof written -> batch finalized on L1.", buckets=_L,
                             registry=REGISTRY)
GAS = Histogram("rollup_submit_gas", "Gas of submitBatch.",
                buckets=(2e5, 3e5, 4e5, 5e5, 7e5, 1e6, 2e6), registry=REGISTRY)
FINALIZED = Counter("rollup_batches_finalized", "Batches finalized by this node.",
                    registry=REGISTRY)
STAGE_ERRORS = Counter("rollup_stage_errors", "Failed passes per stage.", ["stage"],
                       registry=REGISTRY)
L1_ENTRIES = Counter("rollup_l1_entries", "L1 queue entries handed to the sequencer.",
                     registry=REGISTRY)
ORACLE_MESSAGES = Counter("rollup_oracle_messages", "Signed oracle messages submitted.",
                          registry=REGISTRY)
CHAIN_BATCH = Gauge("rollup_finalized_batch", "The contract's batch number.", registry=REGISTRY)
LOCAL_SEQ = Gauge("rollup_journal_rows", "Journal rows (accepted requests).", registry=REGISTRY)
UNBATCHED = Gauge("rollup_unbatched_requests", "Journal rows not in a built batch.",
                  registry=REGISTRY)
PROOFS_IN_FLIGHT = Gauge("rollup_proofs_in_flight", "Batches being proven.", registry=REGISTRY)
EXODUS = Gauge("rollup_exodus", "1 once the contract is in exodus.", registry=REGISTRY)


def serve(port: int, host: str = "127.0.0.1") -> int:
    """Serve /metrics on HOST:PORT (0: any free port); returns the port."""
    server, _ = start_http_server(port, addr=host, registry=REGISTRY)
    return server.server_port
