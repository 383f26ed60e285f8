"""``python -m invlatent``."""

from invlatent.cli import main

main()
