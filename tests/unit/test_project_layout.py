"""Project invariants: the pins agree with each other, and the layout is wired."""

from __future__ import annotations

import ast
import configparser
import json
import re
import tomllib
from pathlib import Path

import ansible_collections
import yaml

from catalog.settings import ServerSettings, Settings
from strata.tools import moduledoc

ROOT = Path(__file__).resolve().parents[2]


def installed_collection_version(fqcn: str) -> str:
    namespace, name = fqcn.split(".")
    manifest = Path(ansible_collections.__path__[0]) / namespace / name / "MANIFEST.json"
    return str(json.loads(manifest.read_text())["collection_info"]["version"])


def test_requirements_yml_pins_what_the_tests_run() -> None:
    """Galaxy users must get the collection versions the `ansible` bundle gives the tests."""
    requirements = yaml.safe_load((ROOT / "requirements.yml").read_text())["collections"]
    assert requirements, "requirements.yml lists no collection"
    for entry in requirements:
        assert entry["version"] == installed_collection_version(entry["name"]), entry["name"]


def test_direct_dependencies_are_pinned_and_constrained() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    app = tomllib.loads((ROOT / "app/pyproject.toml").read_text())["project"]
    pins = project["dependencies"] + [p for extra in project["optional-dependencies"].values() for p in extra]
    pins += app["dependencies"]  # the service's image is built from the same constraints
    constraints = {
        re.sub(r"[-_.]+", "-", line.split("==")[0].lower()): line.split("==")[1]
        for line in (ROOT / "requirements/constraints.txt").read_text().splitlines()
        if "==" in line
    }
    for pin in pins:
        name, version = pin.split("==")
        name = re.sub(r"[-_.]+", "-", name.split("[")[0].lower())
        assert constraints.get(name) == version, f"{pin} disagrees with requirements/constraints.txt"


def test_ansible_cfg_wires_the_plugins() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "ansible.cfg")
    defaults = config["defaults"]
    for key, path in {
        "library": "plugins/modules",
        "module_utils": "plugins/module_utils",
        "filter_plugins": "plugins/filter",
        "lookup_plugins": "plugins/lookup",
        "inventory_plugins": "plugins/inventory",
        "roles_path": "roles",
    }.items():
        assert defaults[key] == path
        assert (ROOT / path).is_dir(), path


def test_site_only_imports_playbooks() -> None:
    for play in yaml.safe_load((ROOT / "site.yml").read_text()):
        assert set(play) == {"name", "ansible.builtin.import_playbook"}
        assert play["ansible.builtin.import_playbook"].startswith("playbooks/")


def test_every_role_has_argument_specs_and_docs() -> None:
    roles = sorted(p.name for p in (ROOT / "roles").iterdir() if p.is_dir())
    assert roles
    for role in roles:
        assert (ROOT / "roles" / role / "meta/argument_specs.yml").is_file(), role
        assert (ROOT / "docs/roles" / f"{role}.md").is_file(), role


def test_every_module_has_docs() -> None:
    for module in (ROOT / "plugins/modules").glob("strata_*.py"):
        source = module.read_text()
        for block in ("DOCUMENTATION", "EXAMPLES", "RETURN"):
            assert f'{block} = r"""' in source, f"{module.name}: no {block}"
        assert (ROOT / "docs/modules" / f"{module.stem}.md").is_file(), module.stem


def test_module_reference_pages_are_generated_from_the_code() -> None:
    """docs/modules/<name>.md is what `python -m strata.tools.moduledoc` renders today, and every
    description line is text (a stray `: ` turns a YAML line into a mapping)."""
    for module in sorted((ROOT / "plugins/modules").glob("strata_*.py")):
        page = ROOT / "docs/modules" / f"{module.stem}.md"
        regenerate = f"regenerate {page.name}: python -m strata.tools.moduledoc {module}"
        assert page.read_text() == moduledoc.render(module), regenerate
        assert "{'" not in page.read_text(), f"{module.name}: a description line parsed as a mapping"


def test_lookup_plugin_references_are_generated_from_the_code() -> None:
    plugins = sorted((ROOT / "plugins/lookup").glob("strata_*.py"))
    assert plugins
    for plugin in plugins:
        page = ROOT / "docs/lookup" / f"{plugin.stem}.md"
        assert page.read_text() == moduledoc.render(plugin), (
            f"regenerate: python -m strata.tools.moduledoc {plugin} > {page}"
        )


def test_inventory_plugin_reference_is_generated_from_the_code() -> None:
    plugin = ROOT / "plugins/inventory/strata_fleet.py"
    page = ROOT / "docs/inventory.md"
    assert page.read_text() == moduledoc.render(plugin), (
        f"regenerate: python -m strata.tools.moduledoc {plugin} > {page}"
    )


def test_every_role_default_is_in_its_argument_specs() -> None:
    """...with the real default as its documented one (ansible-doc shows the spec's)."""
    for defaults in (ROOT / "roles").glob("*/defaults/main.yml"):
        role = defaults.parent.parent
        specs = yaml.safe_load((role / "meta/argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
        doc = (ROOT / "docs/roles" / f"{role.name}.md").read_text()
        for variable, value in (yaml.safe_load(defaults.read_text()) or {}).items():
            assert variable in specs, f"{role.name}: {variable} has no argument spec"
            assert specs[variable].get("default") == value, f"{role.name}: {variable}'s spec documents another default"
            assert f"`{variable}`" in doc, f"{role.name}: {variable} is not in docs/roles/{role.name}.md"


def test_every_setting_of_the_service_is_documented() -> None:
    """docs/app/configuration.md names every CATALOG_* variable the service reads, and no other."""
    page = (ROOT / "docs/app/configuration.md").read_text()
    fields = [*Settings.model_fields, *ServerSettings.model_fields]
    for name in fields:
        assert f"`CATALOG_{name.upper()}`" in page, f"CATALOG_{name.upper()} is not in docs/app/configuration.md"
    documented = set(re.findall(r"`CATALOG_([A-Z_]+)`", page)) - {"SECRETS_DIR"}  # read by load_settings()
    assert documented == {name.upper() for name in fields}


def test_the_role_order_is_written_once() -> None:
    """playbooks/vars/roles.yml is the one list of the roles' order: estate (and destroy, through it, reversed),
    the Kubernetes play and the preflight read it; no playbook names the roles in a list of its own."""
    order = yaml.safe_load((ROOT / "playbooks/vars/roles.yml").read_text())
    estate, kubernetes = order["strata_estate_roles"], order["strata_kubernetes_roles"]
    assert estate == ["kms", "eks", "bastion_host", "database", "registry", "storage", "backup", "dns"]
    assert kubernetes == ["k8s_namespaces", "k8s_ingress", "k8s_observability", "k8s_app", "k8s_cluster_addons"]
    on_disk = {p.name for p in (ROOT / "roles").iterdir() if (p / "tasks/main.yml").is_file()}
    assert set(estate + kubernetes) <= on_disk
    assert on_disk - set(estate + kubernetes) == {"network", "preflight", "kubernetes", "bastion_sshd", "runtime"}
    for name in ("estate.yml", "k8s.yml", "preflight.yml"):
        (play,) = [p for p in yaml.safe_load((ROOT / "playbooks" / name).read_text()) if "vars/roles.yml" in str(p)]
        assert play["vars_files"] == ["vars/roles.yml"], name
    destroy = yaml.safe_load((ROOT / "playbooks/destroy.yml").read_text())
    assert [p.get("ansible.builtin.import_playbook") for p in destroy] == [
        "preflight.yml", None, "k8s.yml", "estate.yml", "network.yml"
    ]  # fmt: skip
    assert destroy[1]["tasks"][0]["ansible.builtin.include_role"]["tasks_from"] == "protection.yml"
    assert destroy[3]["vars"] == {"strata_state": "absent"}
    for path in (ROOT / "playbooks").glob("*.yml"):
        text = path.read_text()
        for role in estate + kubernetes:
            assert f"role: {role}" not in text, f"{path.name} names {role}: loop over playbooks/vars/roles.yml"


def test_the_domain_imports_no_tool_and_no_sdk() -> None:
    """strata.domain holds the rules (pure: the standard library and itself); strata.tools builds on it."""
    allowed_roots = {
        "strata",
        "collections",
        "dataclasses",
        "typing",
        "ipaddress",
        "itertools",
        "urllib",
        "re",
        "hashlib",
        "json",
    }
    for path in sorted((ROOT / "src/strata/domain").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                assert not name.startswith("strata.tools"), f"{path.name} imports {name}"
                assert name.split(".")[0] in allowed_roots | {"__future__"}, f"{path.name} imports {name}"
    assert {p.stem for p in (ROOT / "tests/unit/strata/domain").glob("test_*.py")} >= {
        f"test_{p.stem}" for p in (ROOT / "src/strata/domain").glob("*.py") if p.stem != "__init__"
    }  # every domain module has its unit tests, mirrored


def test_eks_nodegroups_documents_its_real_default_and_every_key() -> None:
    """The spec is the one list of a node group's keys: the preflight checks it (entry point validate)."""
    spec = yaml.safe_load((ROOT / "roles/eks/meta/argument_specs.yml").read_text())["argument_specs"]["main"]
    option = spec["options"]["eks_nodegroups"]
    defaults = yaml.safe_load((ROOT / "roles/eks/defaults/main.yml").read_text())["eks_nodegroups"]
    assert option["default"] == defaults
    assert {key for group in defaults for key in group} <= set(option["options"])
    assert option["options"]["name"]["required"] and option["options"]["instance_types"]["required"]
    assert option["options"]["taints"]["options"]["effect"]["choices"] == [
        "NO_SCHEDULE",
        "NO_EXECUTE",
        "PREFER_NO_SCHEDULE",
    ]


def test_the_preflight_checks_every_role_against_its_argument_spec() -> None:
    """Each role the preflight validates has an entry point `validate` with the same spec as `main`, so types,
    choices and unknown keys fail before anything changes, not when the role's turn comes."""
    order = yaml.safe_load((ROOT / "playbooks/vars/roles.yml").read_text())
    for role in [*order["strata_estate_roles"], "kubernetes", *order["strata_kubernetes_roles"]]:
        specs = yaml.safe_load((ROOT / "roles" / role / "meta/argument_specs.yml").read_text())["argument_specs"]
        assert specs.get("validate") == specs["main"], f"{role}: argument_specs.yml needs `validate: *main`"
    tasks = yaml.safe_load((ROOT / "playbooks/preflight.yml").read_text())[1]["tasks"]
    assert {t["ansible.builtin.include_role"]["tasks_from"] for t in tasks} == {"validate"}  # not validate.yml
