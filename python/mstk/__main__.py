"""``python -m mstk``: the same entry point as the ``mstk`` script."""

from mstk.cli import main

if __name__ == "__main__":
    main()
