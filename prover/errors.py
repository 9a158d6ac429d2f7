"""Typed errors at the prover's boundary: each says what was wrong with the input."""


class ProverInputError(ValueError):
    """Base class: an input was rejected before any work was done on it."""


class FormatError(ProverInputError):
    """A file or document does not follow the expected format (reason in the message)."""


class NonCanonicalError(ProverInputError):
    """A field element was negative or not below its modulus."""


class NotOnCurveError(ProverInputError):
    """A point does not satisfy the curve equation."""


class NotInSubgroupError(ProverInputError):
    """A G2 point is on the twist but outside the order-r subgroup."""


class WitnessError(ProverInputError):
    """A witness does not fit the proving key (length, constant-one wire, range)."""


class PublicInputError(ProverInputError):
    """Public signals do not fit the verification key (count or range)."""


class CircuitInputError(ProverInputError):
    """An input.json does not fit the circuit: an unknown signal, a wrong count, a bad value."""


class WitnessCalculationError(ProverInputError):
    """The circuit's witness generator failed (a failed assert, ...); `code` is circom's."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code
