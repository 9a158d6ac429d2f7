"""`rollup chain ...` commands."""

from __future__ import annotations

import json

from click.testing import CliRunner

from rollup.cli import cli
from tests.support.snark import needs_node


def test_chain_group_is_registered():
    out = CliRunner().invoke(cli, ["chain", "--help"])
    assert out.exit_code == 0
    assert "verify" in out.output and "build" in out.output and "anvil" in out.output


@needs_node
def test_chain_verify_embedded(standin, tmp_path):  # noqa: F811
    proof, public = standin.prove({"x": 77, "w": 2})
    out = CliRunner().invoke(cli, ["chain", "verify", str(standin.vk), str(proof), str(public)])
    assert out.exit_code == 0, out.output
    assert "valid" in out.output and "gas:" in out.output
    wrong = tmp_path / "public.json"
    wrong.write_text(json.dumps(["78"]))
    out = CliRunner().invoke(cli, ["chain", "verify", str(standin.vk), str(proof), str(wrong)])
    assert out.exit_code == 1 and "INVALID" in out.output
