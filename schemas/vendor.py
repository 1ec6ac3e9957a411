"""Regenerates the vendored JSON schemas under schemas/ (see schemas/README.md).

Run with the oracle virtualenv's Python, which has kubernetes-validate installed:

    /opt/plat-oracles/bin/python schemas/vendor.py

Sources (registry packages only; nothing is fetched from anywhere else):
  * Kubernetes built-in kinds: the strict schemas of Kubernetes 1.33 that the PyPI package
    kubernetes-validate ships as package data (`kubernetes-json-schema/v1.33.0-local-strict/`).
  * Prometheus Operator kinds: the JSON schema literals that the npm package
    @kubernetes-models/prometheus-operator@1.6.3 embeds, generated from the operator's CRDs.

Every output file is one self-contained JSON schema (draft 2020-12): the kind's schema plus the
closure of the definitions it references under `$defs`, so that validation needs no resolver. The
transformations, each of which keeps what the schema accepts unchanged except where noted:
  * `description` and `x-kubernetes-*` annotations are dropped (they do not constrain anything and
    are most of the bytes);
  * CRD schemas: `nullable: true` becomes a `"null"` type; objects with `properties` and no
    `additionalProperties` get `additionalProperties: false` (strict, like the API server's strict
    field validation, which rejects unknown fields); `metadata` refers to Kubernetes 1.33 ObjectMeta.
"""

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile

import kubernetes_validate

KUBERNETES_VERSION = "1.33.0"
PROMETHEUS_PACKAGE = "@kubernetes-models/prometheus-operator@1.6.3"

HERE = os.path.dirname(os.path.abspath(__file__))

# The built-in kinds plat emits, as kubernetes-validate names their files: kind-group-version
# (ResourceQuota and PriorityClass for extra objects of manifests/, which plat does not emit itself).
KUBERNETES_KINDS = [
    "clusterrole-rbac-v1",
    "clusterrolebinding-rbac-v1",
    "configmap-v1",
    "cronjob-batch-v1",
    "daemonset-apps-v1",
    "deployment-apps-v1",
    "horizontalpodautoscaler-autoscaling-v2",
    "ingress-networking-v1",
    "job-batch-v1",
    "namespace-v1",
    "networkpolicy-networking-v1",
    "persistentvolumeclaim-v1",
    "poddisruptionbudget-policy-v1",
    "priorityclass-scheduling-v1",
    "resourcequota-v1",
    "secret-v1",
    "service-v1",
    "serviceaccount-v1",
    "statefulset-apps-v1",
]

PROMETHEUS_KINDS = ["PrometheusRule", "ServiceMonitor"]

# Keys whose values map names to schemas: their keys are names, not keywords.
SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
DEFS_PREFIX = "#/$defs/"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def walk(node, visit):
    """Calls visit on every schema object under node, children first."""
    if isinstance(node, list):
        for item in node:
            walk(item, visit)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key in SCHEMA_MAPS and isinstance(value, dict):
            for child in value.values():
                walk(child, visit)
        elif key != "enum" and key != "const" and key != "default":
            walk(value, visit)
    visit(node)


def strip_annotations(node):
    node.pop("description", None)
    for key in [k for k in node if k.startswith("x-kubernetes-")]:
        del node[key]


def make_strict(node):
    """CRD schemas only: what the API server's strict field validation does with unknown fields."""
    if node.pop("nullable", False) and isinstance(node.get("type"), str):
        node["type"] = [node["type"], "null"]
    preserve = node.get("x-kubernetes-preserve-unknown-fields", False)
    if "properties" in node and "additionalProperties" not in node and not preserve:
        node["additionalProperties"] = False


def refs_in(node):
    found = []

    def visit(n):
        ref = n.get("$ref")
        if isinstance(ref, str):
            found.append(ref)

    walk(node, visit)
    return found


def local_ref(ref):
    """`/api/_definitions.json#/$defs/X` or `#/$defs/X` → X."""
    return ref.split(DEFS_PREFIX, 1)[1]


def bundle(schema, definitions):
    """The schema with the closure of the definitions it references, all refs local."""
    needed, pending = {}, [local_ref(r) for r in refs_in(schema)]
    while pending:
        name = pending.pop()
        if name in needed:
            continue
        needed[name] = json.loads(json.dumps(definitions[name]))
        pending.extend(local_ref(r) for r in refs_in(needed[name]))

    def localise(n):
        if isinstance(n.get("$ref"), str):
            n["$ref"] = DEFS_PREFIX + local_ref(n["$ref"])

    out = {"$schema": "https://json-schema.org/draft/2020-12/schema"}
    out.update(schema)
    out["$defs"] = dict(sorted(needed.items()))
    walk(out, localise)
    walk(out, strip_annotations)
    return out


def write(relative, schema, sizes):
    path = os.path.join(HERE, relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    text = json.dumps(schema, sort_keys=True, indent=1) + "\n"
    with open(path, "w") as f:
        f.write(text)
    sizes.append((relative, len(text)))


def kubernetes(sizes):
    root = os.path.join(
        os.path.dirname(kubernetes_validate.__file__),
        "kubernetes-json-schema",
        f"v{KUBERNETES_VERSION}-local-strict",
    )
    with open(os.path.join(root, "_definitions.json")) as f:
        definitions = json.load(f)["$defs"]
    for name in KUBERNETES_KINDS:
        with open(os.path.join(root, name + ".json")) as f:
            schema = json.load(f)
        write(f"kubernetes-{KUBERNETES_VERSION}/{name}.json", bundle(schema, definitions), sizes)
    return definitions


def prometheus(definitions, sizes):
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["npm", "pack", PROMETHEUS_PACKAGE, "--pack-destination", tmp],
            check=True,
            capture_output=True,
        )
        (tarball,) = [f for f in os.listdir(tmp) if f.endswith(".tgz")]
        with tarfile.open(os.path.join(tmp, tarball)) as tar:
            for kind in PROMETHEUS_KINDS:
                member = tar.extractfile(f"package/monitoring.coreos.com/v1/{kind}.js")
                text = member.read().decode()
                # The module holds the schema as a JSON literal: `const schema = {...};`.
                literal = re.search(r"^const schema = (\{.*?^\});$", text, re.S | re.M).group(1)
                schema = json.loads(literal)
                schema["properties"]["metadata"] = {"$ref": DEFS_PREFIX + OBJECT_META}
                walk(schema, make_strict)
                name = f"{kind.lower()}-monitoring.coreos.com-v1"
                write(f"prometheus-operator/{name}.json", bundle(schema, definitions), sizes)


def main():
    sizes = []
    definitions = kubernetes(sizes)
    prometheus(definitions, sizes)
    version = importlib.metadata.version("kubernetes-validate")
    print(f"kubernetes-validate {version}, Kubernetes {KUBERNETES_VERSION}; {PROMETHEUS_PACKAGE}")
    for path, size in sizes:
        print(f"{size:>9}  {path}")
    print(f"{sum(s for _, s in sizes):>9}  total")


if __name__ == "__main__":
    sys.exit(main())
