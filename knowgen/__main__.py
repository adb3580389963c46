"""`python -m knowgen` runs the command line."""

from knowgen.cli import main

main()
