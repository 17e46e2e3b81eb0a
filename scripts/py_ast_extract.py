#!/usr/bin/env python3
"""Baseline Python `ast` extractor: the comparison for qaforge's tree-sitter extractor.

Walks every tracked .py file of a git work tree (one process, no threads), and writes one JSON line
per module, class, function and method: names, kinds, spans (start includes decorators),
signatures, docstrings (inspect.cleandoc-ed). Prints a JSON summary on stdout.

    python3 scripts/py_ast_extract.py <repo> [--out symbols.jsonl] [--max-bytes 10485760]
"""
import argparse
import ast
import json
import os
import resource
import subprocess
import sys
import time


def module_name(path):
    p = path[:-3] if path.endswith(".py") else path
    if p.startswith("src/"):
        p = p[4:]
    parts = [x for x in p.split("/") if x]
    if len(parts) > 1 and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def signature(fn):
    try:
        args = ast.unparse(fn.args)
    except Exception:  # pragma: no cover - unparse handles every valid tree
        args = "?"
    ret = f" -> {ast.unparse(fn.returns)}" if fn.returns is not None else ""
    return f"({args}){ret}"


def walk(body, scope_kind, scope_qual, path, mod, out):
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = node.name
            if scope_kind == "module":
                qual = name
            elif scope_kind == "class":
                qual = f"{scope_qual}.{name}"
            else:
                qual = f"{scope_qual}.<locals>.{name}"
            is_class = isinstance(node, ast.ClassDef)
            kind = "class" if is_class else ("method" if scope_kind == "class" else "function")
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            out.append({
                "path": path,
                "kind": kind,
                "name": name,
                "qualname": qual,
                "module": mod,
                "start_line": start,
                "end_line": node.end_lineno,
                "signature": None if is_class else signature(node),
                "params": [] if is_class else [a.arg for a in node.args.posonlyargs + node.args.args]
                + ([node.args.vararg.arg] if node.args.vararg else [])
                + [a.arg for a in node.args.kwonlyargs]
                + ([node.args.kwarg.arg] if node.args.kwarg else []),
                "decorators": [ast.unparse(d) for d in node.decorator_list],
                "bases": [ast.unparse(b) for b in node.bases] if is_class else [],
                "docstring": ast.get_docstring(node, clean=True),
                "is_async": isinstance(node, ast.AsyncFunctionDef),
            })
            walk(node.body, "class" if is_class else "function", qual, path, mod, out)
        else:
            # Definitions nested in if/for/while/try/with/match blocks stay in the same scope.
            for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                child = getattr(node, field, None)
                if isinstance(child, list):
                    inner = []
                    for c in child:
                        if isinstance(c, (ast.ExceptHandler, ast.match_case)):
                            inner.extend(c.body)
                        else:
                            inner.append(c)
                    walk(inner, scope_kind, scope_qual, path, mod, out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("repo")
    ap.add_argument("--out", help="write symbols as JSONL here")
    ap.add_argument("--max-bytes", type=int, default=10 * 1024 * 1024)
    args = ap.parse_args()

    t0 = time.perf_counter()
    files = subprocess.run(["git", "-C", args.repo, "ls-files", "-z", "--", "*.py"], check=True,
                           capture_output=True).stdout.decode().split("\0")
    files = sorted(f for f in files if f)
    counts = {"module": 0, "class": 0, "function": 0, "method": 0}
    failed = []
    nbytes = 0
    out = open(args.out, "w", encoding="utf-8") if args.out else None
    for path in files:
        full = os.path.join(args.repo, path)
        try:
            if os.path.getsize(full) > args.max_bytes:
                failed.append({"path": path, "reason": "too_large"})
                continue
            with open(full, "rb") as fh:
                data = fh.read()
            nbytes += len(data)
            tree = ast.parse(data, filename=path)
        except (SyntaxError, ValueError, OSError) as e:
            failed.append({"path": path, "reason": type(e).__name__, "detail": str(e)[:200]})
            continue
        mod = module_name(path)
        recs = [{
            "path": path, "kind": "module", "name": mod.split(".")[-1], "qualname": mod, "module": mod,
            "start_line": 1, "end_line": None, "signature": None, "params": [], "decorators": [], "bases": [],
            "docstring": ast.get_docstring(tree, clean=True), "is_async": False,
        }]
        walk(tree.body, "module", None, path, mod, recs)
        for r in recs:
            counts[r["kind"]] += 1
            if out:
                out.write(json.dumps(r) + "\n")
    if out:
        out.close()
    secs = time.perf_counter() - t0
    print(json.dumps({
        "extractor": "python-ast",
        "python": sys.version.split()[0],
        "files": len(files),
        "parsed_files": len(files) - len(failed),
        "failed": failed,
        "bytes": nbytes,
        "symbols": counts,
        "seconds": round(secs, 3),
        "mb_per_s": round(nbytes / 1e6 / secs, 3) if secs else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }))


if __name__ == "__main__":
    main()
