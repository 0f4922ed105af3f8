"""Allow `python -m podid`."""

from podid.cli.main import main

main()
