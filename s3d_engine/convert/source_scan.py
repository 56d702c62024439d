"""Scan of the Python source a persistent record embeds (`module_src`), with `ast` only.

The source is parsed, never compiled or run. `scan_module_source` reports calls that would run
when the module is imported (module and class bodies, decorators, default values) and that have
no business in a network definition; a file carrying such source has been tampered with. This is
defence in depth: the converter never executes the source either way.
"""
from __future__ import annotations

import ast
import hashlib

# Calls that have no business running when a network-definition module is imported.
_DANGEROUS_BUILTINS = frozenset({  # called by bare name
    "exec", "eval", "compile", "open", "__import__", "getattr", "setattr", "delattr", "globals", "locals",
    "vars", "breakpoint", "input",
})
_DANGEROUS_ATTRIBUTES = frozenset({  # called as module.attr(...) or obj.attr(...)
    "system", "popen", "Popen", "run", "call", "check_call", "check_output", "getoutput", "getstatusoutput",
    "spawnl", "spawnle", "spawnlp", "spawnv", "spawnve", "spawnvp", "execv", "execve", "execl", "execle", "execlp",
    "execvp", "execvpe", "fork", "forkpty", "startfile", "open", "import_module", "__import__", "remove",
    "unlink", "rmdir", "removedirs", "rmtree", "rename", "renames", "mkdir", "makedirs", "write_text",
    "write_bytes", "touch", "urlopen", "urlretrieve", "create_connection", "kill", "killpg", "putenv",
    "chmod", "chown", "load", "loads", "symlink", "link", "truncate",
})
_DANGEROUS_NAMES_ANYWHERE = frozenset({"__builtins__", "__import__", "exec", "eval", "breakpoint"})
_SOURCE_CACHE: dict[str, str | None] = {}


def _call_target(func: ast.expr) -> list[str]:
    names: list[str] = []
    while isinstance(func, ast.Attribute):
        names.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        names.append(func.id)
    return names


class _ImportTimeScanner(ast.NodeVisitor):
    """Visits only what runs when the module is imported: module and class bodies, decorators,
    default values, base classes. Function and lambda bodies are skipped (they run only if called),
    as is an `if __name__ == "__main__":` block."""

    def __init__(self) -> None:
        self.findings: list[str] = []

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for expr in [*node.decorator_list, *node.args.defaults, *[d for d in node.args.kw_defaults if d is not None]]:
            self.visit(expr)

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for expr in [*node.args.defaults, *[d for d in node.args.kw_defaults if d is not None]]:
            self.visit(expr)

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"
                and len(test.comparators) == 1 and isinstance(test.comparators[0], ast.Constant)
                and test.comparators[0].value == "__main__"):
            for stmt in node.orelse:
                self.visit(stmt)
            return
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name):
            bad = func.id in _DANGEROUS_BUILTINS
        elif isinstance(func, ast.Attribute):
            bad = func.attr in _DANGEROUS_ATTRIBUTES
        else:  # calling the result of a call or subscript: f(x)(y), table[k](y)
            bad = True
        if bad:
            names = _call_target(func)
            self.findings.append(f"line {node.lineno}: {'.'.join(reversed(names)) or 'a computed function'}(...)")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in _DANGEROUS_NAMES_ANYWHERE:
            self.findings.append(f"line {node.lineno}: {node.id}")


def scan_module_source(source: str) -> str | None:
    """Return a description of import-time code we refuse, or None. The source is parsed, never run."""
    digest = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()
    if digest in _SOURCE_CACHE:
        return _SOURCE_CACHE[digest]
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        result: str | None = f"the embedded source does not parse ({type(exc).__name__})"
    else:
        scanner = _ImportTimeScanner()
        for stmt in tree.body:
            scanner.visit(stmt)
        result = ("the embedded source would run " + ", ".join(scanner.findings[:3])
                  + (" ..." if len(scanner.findings) > 3 else "") + " when imported") if scanner.findings else None
    _SOURCE_CACHE[digest] = result
    return result
