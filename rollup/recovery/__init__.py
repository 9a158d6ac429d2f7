"""Recovery without the operator: genesis records (``genesis``), the state rebuilt from L1 data
alone (``recover``), and a trader's exit proof once the contract is in exodus (``exit``)."""
