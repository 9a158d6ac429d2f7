"""Helpers shared by the tests (builders, oracles, clients); fixtures are in tests/conftest.py."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
