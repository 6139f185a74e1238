"""Render a module's reference page (docs/modules/<name>.md) from its DOCUMENTATION,
EXAMPLES and RETURN, so that the docs cannot drift from the code:

    python -m strata.tools.moduledoc plugins/modules/strata_eks_cluster.py > docs/modules/strata_eks_cluster.md

A unit test regenerates every page and compares.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]
from ansible.utils.plugin_docs import merge_fragment

ROOT = Path(__file__).resolve().parents[3]
# Fragments whose options are written into the page's table: the platform's own and amazon.aws's tags. The common
# AWS options (credentials, region, endpoint, retries) are named in one sentence instead.
RESOLVED = ("strata_aws.", "amazon.aws.tags")


def _blocks(path: Path) -> dict[str, str]:
    tree = ast.parse(path.read_text())
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in ("DOCUMENTATION", "EXAMPLES", "RETURN"):
                    found[target.id] = node.value.value
    return found


def _text(value: Any) -> str:
    lines = value if isinstance(value, list) else [value]
    return " ".join(str(line).strip() for line in lines).replace("|", "\\|")


def _default(option: dict[str, Any]) -> str:
    if option.get("required"):
        return "required"
    if "default" not in option:
        return ""
    return f"`{yaml.safe_dump(option['default'], default_flow_style=True).strip().removesuffix('...').strip()}`"


def _rows(options: dict[str, Any], prefix: str = "") -> list[str]:
    rows = []
    for name, option in options.items():
        kind = option.get("type", "str") + (f" of {option['elements']}" if option.get("elements") else "")
        choices = f" Choices: {', '.join(f'`{c}`' for c in option['choices'])}." if option.get("choices") else ""
        meaning = _text(option.get("description", "")) + choices
        rows.append(f"| `{prefix}{name}` | {kind} | {_default(option)} | {meaning} |")
        rows.extend(_rows(option.get("suboptions") or {}, prefix=f"{prefix}{name}."))
    return rows


def _fragment(name: str) -> dict[str, Any]:
    """A documentation fragment's YAML: `strata_aws.<attr>` from plugins/doc_fragments, `ns.coll.name` from the
    installed collection (its DOCUMENTATION)."""
    if name.startswith("strata_aws."):
        spec = importlib.util.spec_from_file_location(
            "strata_doc_fragments", ROOT / "plugins/doc_fragments/strata_aws.py"
        )
        if spec is None or spec.loader is None:
            raise FileNotFoundError(f"plugins/doc_fragments/strata_aws.py: {name}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        text = getattr(module.ModuleDocFragment, name.split(".", 1)[1].upper())
    else:
        namespace, collection, fragment = name.split(".")
        module = importlib.import_module(
            f"ansible_collections.{namespace}.{collection}.plugins.doc_fragments.{fragment}"
        )
        text = module.ModuleDocFragment.DOCUMENTATION
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def _resolve(doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` with the options of its RESOLVED fragments merged in the way ansible-doc merges them (the module's own
    definition of an option wins); the other fragments stay listed."""
    fragments = doc.get("extends_documentation_fragment") or []
    merged = dict(doc)
    for name in fragments:
        if name.startswith(RESOLVED):
            fragment = _fragment(name)
            fragment.pop("notes", None)
            merge_fragment(merged, fragment)
    merged["extends_documentation_fragment"] = [f for f in fragments if not f.startswith(RESOLVED)]
    merged["options"] = dict(sorted((merged.get("options") or {}).items(), key=lambda item: _order(doc, item[0])))
    return merged


def _order(doc: dict[str, Any], name: str) -> tuple[int, str]:
    """The module's own options first, in their order, then the fragments' options by name."""
    own = list(doc.get("options") or {})
    return (own.index(name), "") if name in own else (len(own), name)


def render(path: Path) -> str:
    blocks = _blocks(path)
    doc = _resolve(yaml.safe_load(blocks["DOCUMENTATION"]))
    returns = yaml.safe_load(blocks.get("RETURN", "")) or {}
    plugin_kind = "Lookup plugin" if path.parent.name == "lookup" else "Inventory plugin"
    kind, name = ("Module", doc["module"]) if "module" in doc else (plugin_kind, doc["name"])
    out = [
        f"# {kind} `{name}`",
        "",
        f"{doc['short_description']}.",
        "",
        "<!-- Generated from the plugin's DOCUMENTATION by `python -m strata.tools.moduledoc`; do not edit. -->",
        "",
    ]
    out += [f"- {_text(line)}" for line in doc.get("description", [])]
    out += ["", "## Options", "", "| option | type | default | meaning |", "| --- | --- | --- | --- |"]
    out += _rows(doc.get("options") or {})
    fragments = doc.get("extends_documentation_fragment") or []
    if fragments and kind == "Module":
        names = ", ".join(f"`{f}`" for f in fragments)
        out += ["", f"Common AWS options (region, endpoint, credentials, retries) come from {names}."]
    elif fragments:
        names = ", ".join(f"`{f}`" for f in fragments)
        out += ["", f"Also the options of {names}: `compose`, `groups`, `keyed_groups`, `strict`, and `cache`,"]
        out += ["`cache_plugin`, `cache_timeout`, `cache_connection`, `cache_prefix`, as in amazon.aws.aws_ec2."]
    out += ["", "## Examples", "", "```yaml", blocks["EXAMPLES"].strip(), "```"]
    if returns:
        out += ["", "## Return values", ""]
    for key, value in returns.items():
        meaning = _text(value.get("description", ""))
        out.append(f"- `{key}` ({value.get('type', '')}, {value.get('returned', '')}): {meaning}")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    for name in argv if argv is not None else sys.argv[1:]:
        sys.stdout.write(render(Path(name)))


if __name__ == "__main__":
    main()
