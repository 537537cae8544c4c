"""tools/check_layers.py: the repository passes it, and a tree breaking each rule fails it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tools.check_layers import REPOSITORY, check

BAD_TREE = {
    "app/__init__.py": "",
    "app/db/__init__.py": "",
    "app/db/session.py": """
        async def session_scope(factory):
            async with factory() as session, session.begin():
                yield session
    """,
    "app/repositories/__init__.py": "",
    "app/repositories/rows.py": """
        from sqlalchemy.ext.asyncio import AsyncSession

        async def save(session: AsyncSession) -> None:
            await session.commit()
    """,
    "app/sync/__init__.py": "",
    "app/sync/crm_to_qbo/__init__.py": "",
    "app/sync/crm_to_qbo/customers.py": """
        import httpx

        from app.db.session import session_scope

        async def link(factory):
            async with session_scope(factory) as session:
                pass
    """,
    "app/sync/connections/__init__.py": "",
    "app/sync/connections/connect.py": """
        from app.db.session import session_scope

        async def connect(factory):
            async with session_scope(factory) as session:
                pass
    """,
    "app/integrations/__init__.py": "",
    "app/integrations/http.py": "import httpx\nfrom authlib.jose import jwt\n",
    "app/demo/__init__.py": "",
    "app/demo/crm.py": "import httpx\n",
    "app/api/__init__.py": "from app.web import page\n",
    "app/web/__init__.py": "",
    "app/web/page.py": """
        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from ..api import router
    """,
}


def write_tree(root: Path) -> None:
    for relative, source in BAD_TREE.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip())


def test_the_repository_keeps_its_layers_and_transaction_rule() -> None:
    findings = check(REPOSITORY)
    assert findings == [], "\n".join(map(str, findings))


def test_a_tree_that_breaks_each_rule_fails_with_where_and_why(tmp_path: Path) -> None:
    write_tree(tmp_path)
    result = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "tools.check_layers", str(tmp_path)],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    lines = set(result.stdout.splitlines())
    rules = {(line.split(":")[0], line.split(": ")[1]) for line in lines if line.startswith("app/")}
    assert rules == {
        ("app/repositories/rows.py", "transaction"),  # .commit() outside app/db
        ("app/repositories/rows.py", "session-commits"),
        ("app/sync/crm_to_qbo/customers.py", "transaction"),  # runs inside the job's transaction
        ("app/sync/crm_to_qbo/customers.py", "http-import"),
        ("app/api/__init__.py", "import-cycle"),
        ("app/web/page.py", "import-cycle"),  # under TYPE_CHECKING, relative: counted all the same
    }, result.stdout
    assert "app/sync/crm_to_qbo/customers.py:1: http-import: imports httpx" in result.stdout
    assert "app.api <-> app.web" in result.stdout
