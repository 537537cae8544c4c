"""Repository tools: the static checks `.ci/run` runs besides ruff and mypy."""
