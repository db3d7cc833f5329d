"""``python -m sapwood``: the same as the ``sapwood`` command."""

from sapwood.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
