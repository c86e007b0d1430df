"""The miosa-jupyter benchmark suite: ``python -m bench`` (see ``bench/README.md``)."""
