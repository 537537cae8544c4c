"""House rules a reviewer would otherwise have to remember, checked over app/'s syntax trees.

- transaction: `session_scope` and `create_session_factory` appear only in the modules that own
  units of work (processes, requests, job bodies, services and flows that take a session
  factory); `.begin(` and `.commit(` only in app/db/. A flow that runs inside a job's transaction
  (app/sync/crm_to_qbo, the mapping) opens a short transaction of its own with
  `app.db.session.side_transaction`, never with `session_scope`.
- session-commits: a function that takes a session (a parameter annotated `AsyncSession`) never
  commits nor opens a unit of work of its own, whatever its module.
- http-import: `httpx` and `authlib` are imported only by app/integrations (the vendors) and
  app/demo (which plays the CRM from outside the service).
- import-cycle: no cycle between app's packages and top modules (app.X; app.sync with its
  subpackages is one), counting imports inside functions and under TYPE_CHECKING.

Usage: `python -m tools.check_layers [ROOT]` (ROOT holds app/; default: this repository). Prints
one line per finding (path:line: rule: what) and exits 1 when there is any.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

REPOSITORY = Path(__file__).resolve().parents[1]

UNIT_OF_WORK_NAMES = frozenset({"session_scope", "create_session_factory"})
TRANSACTION_METHODS = frozenset({"begin", "commit"})
HTTP_LIBRARIES = frozenset({"httpx", "authlib"})

# Where `session_scope` may appear: the longest matching path prefix decides.
SESSION_SCOPE_POLICY: Mapping[str, bool] = {
    "app/": False,
    "app/db/session.py": True,  # defines it
    "app/main.py": True,  # the process
    "app/cli.py": True,  # one command, one unit of work
    "app/jobs/": True,  # job bodies own their job's transaction
    "app/api/": True,  # a request's unit of work
    "app/web/": True,
    "app/services/": True,  # infrastructure that takes a session factory
    "app/sync/": True,  # flows that take a session factory (dispatch, imports, connections)
    "app/sync/crm_to_qbo/": False,  # runs inside the job's transaction: side_transaction
    "app/sync/mapping/": False,  # pure
    "app/sync/flow.py": False,
    "app/demo/": True,
}
# Where a session factory is built from an engine: where the engine is made.
SESSION_FACTORY_POLICY: Mapping[str, bool] = {
    "app/": False,
    "app/db/session.py": True,
    "app/main.py": True,
    "app/cli.py": True,
    "app/jobs/standalone.py": True,
}
# Where `.begin(` / `.commit(` may be called: the database plumbing only.
RAW_TRANSACTION_POLICY: Mapping[str, bool] = {"app/": False, "app/db/": True}
HTTP_IMPORT_POLICY: Mapping[str, bool] = {
    "app/": False,
    "app/integrations/": True,
    "app/demo/": True,
}


@dataclass(frozen=True, order=True)
class Finding:
    path: str
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule}: {self.message}"


def allowed(policy: Mapping[str, bool], path: str) -> bool:
    matches = [prefix for prefix in policy if path == prefix or path.startswith(prefix)]
    return policy[max(matches, key=len)] if matches else True


@dataclass(frozen=True)
class Module:
    path: str  # relative to the root, with forward slashes: app/sync/flow.py
    name: str  # dotted: app.sync.flow (a package's __init__ is the package)
    tree: ast.Module

    @property
    def is_package(self) -> bool:
        return self.path.endswith("/__init__.py")


def load_modules(root: Path) -> list[Module]:
    modules = []
    for file in sorted((root / "app").rglob("*.py")):
        relative = PurePosixPath(file.relative_to(root).as_posix())
        parts = list(relative.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(relative))
        modules.append(Module(str(relative), ".".join(parts), tree))
    return modules


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _takes_session(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    arguments = function.args
    every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
    return any(
        argument.annotation is not None and "AsyncSession" in ast.unparse(argument.annotation)
        for argument in every
    )


def transaction_findings(module: Module) -> Iterator[Finding]:
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Name | ast.Attribute):
            name = node.id if isinstance(node, ast.Name) else node.attr
            policy = SESSION_SCOPE_POLICY if name == "session_scope" else SESSION_FACTORY_POLICY
            if name in UNIT_OF_WORK_NAMES and not allowed(policy, module.path):
                yield Finding(
                    module.path,
                    node.lineno,
                    "transaction",
                    f"{name} outside the modules that own a unit of work"
                    " (inside a flow: app.db.session.side_transaction)",
                )
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method = node.func.attr
            if method in TRANSACTION_METHODS and not allowed(RAW_TRANSACTION_POLICY, module.path):
                yield Finding(
                    module.path,
                    node.lineno,
                    "transaction",
                    f".{method}() outside app/db (use session_scope or side_transaction)",
                )
        if (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and _takes_session(node)
            and not module.path.startswith("app/db/")  # the plumbing that defines the rule
        ):
            yield from _session_taker_findings(module, node)


def _session_taker_findings(
    module: Module, function: ast.FunctionDef | ast.AsyncFunctionDef
) -> Iterator[Finding]:
    for node in ast.walk(function):
        if not isinstance(node, ast.Call):
            continue
        name = _called_name(node)
        if name in UNIT_OF_WORK_NAMES or name == "commit":
            yield Finding(
                module.path,
                node.lineno,
                "session-commits",
                f"{function.name}() takes a session but calls {name}():"
                " its caller owns the transaction",
            )


def http_findings(module: Module) -> Iterator[Finding]:
    if allowed(HTTP_IMPORT_POLICY, module.path):
        return
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            if name.split(".")[0] in HTTP_LIBRARIES:
                yield Finding(
                    module.path,
                    node.lineno,
                    "http-import",
                    f"imports {name}: vendor HTTP belongs in app/integrations",
                )


def _package_of(name: str) -> str:
    """The node of the package graph: app.X (app.sync and its subpackages are one)."""
    return ".".join(name.split(".")[:2])


def _imported(module: Module, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        anchor = module.name.split(".")
        if not module.is_package:
            anchor = anchor[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join([*anchor, *([base] if base else [])])
    # `from app import metrics` imports the module app.metrics, not the package app.
    return [f"{base}.{alias.name}" for alias in node.names] if base == "app" else [base]


def import_edges(modules: list[Module]) -> dict[str, dict[str, tuple[str, int]]]:
    """Package -> imported package -> where (the first import seen), imports anywhere in a file."""
    edges: dict[str, dict[str, tuple[str, int]]] = defaultdict(dict)
    for module in modules:
        source = _package_of(module.name)
        for node in ast.walk(module.tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for target in _imported(module, node):
                if not target.startswith("app."):
                    continue
                package = _package_of(target)
                if package != source:
                    edges[source].setdefault(package, (module.path, node.lineno))
    return edges


def strongly_connected(graph: Mapping[str, Mapping[str, object]]) -> list[list[str]]:
    """Tarjan's components of more than one node (iterative: no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    nodes = sorted(set(graph) | {t for targets in graph.values() for t in targets})
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, {}))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, {})))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return components


def cycle_findings(modules: list[Module]) -> Iterator[Finding]:
    edges = import_edges(modules)
    for component in strongly_connected(edges):
        members = set(component)
        for package in component:
            for target, (path, line) in sorted(edges[package].items()):
                if target in members:
                    yield Finding(
                        path,
                        line,
                        "import-cycle",
                        f"{package} imports {target}, in the cycle {' <-> '.join(component)}",
                    )


def check(root: Path) -> list[Finding]:
    modules = load_modules(root)
    findings: list[Finding] = []
    for module in modules:
        findings.extend(transaction_findings(module))
        findings.extend(http_findings(module))
    findings.extend(cycle_findings(modules))
    return sorted(set(findings))


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    root = Path(arguments[0]) if arguments else REPOSITORY
    findings = check(root)
    for finding in findings:
        print(finding)  # noqa: T201
    print(f"check_layers: {len(findings)} finding(s) in {root / 'app'}")  # noqa: T201
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
