"""Package: the login benchmark (issue 7). Run it with ``python -m bench``; see bench/README.md."""
