"""`python -m rollup.cli`: the `rollup` command."""

from rollup.cli import main

main()
