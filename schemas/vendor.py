"""Regenerates the vendored JSON schemas under schemas/ (see schemas/README.md).

Run with the oracle virtualenv's Python, which has kubernetes-validate and PyYAML installed:

    /opt/plat-oracles/bin/python schemas/vendor.py --crds <folder of upstream CRDs>

Sources (nothing is fetched from anywhere):
  * Kubernetes built-in kinds: the strict schemas of Kubernetes 1.33 that the PyPI package
    kubernetes-validate ships as package data (`kubernetes-json-schema/v1.33.0-local-strict/`).
  * Custom kinds: the `openAPIV3Schema` of the CRDs of pinned operator releases (CloudNativePG,
    opstree redis-operator, External Secrets, Prometheus Operator, Barman Cloud plugin), each CRD
    file byte for byte `git show <tag>:<path>` of its upstream repository, laid out as
    `<project>-v<version>/<file>` under the `--crds` folder and checked against the sha256 below.

Every output file is one self-contained JSON schema (draft 2020-12): the kind's schema plus the
closure of the definitions it references under `$defs`, so that validation needs no resolver. The
transformations, each of which keeps what the schema accepts unchanged except where noted:
  * `description` and `x-kubernetes-*` annotations are dropped (they do not constrain anything and
    are most of the bytes);
  * CRD schemas: `nullable: true` becomes a `"null"` type; objects with `properties` and no
    `additionalProperties` (and no `x-kubernetes-preserve-unknown-fields`) get
    `additionalProperties: false` (strict, like the API server's strict field validation, which
    rejects unknown fields); `metadata` refers to Kubernetes 1.33 ObjectMeta; `apiVersion` and
    `kind` are pinned to the kind's own values and required. CEL rules
    (`x-kubernetes-validations`) are dropped with the other annotations: they are not asserted.
"""

import argparse
import hashlib
import importlib.metadata
import json
import os
import sys

import kubernetes_validate
import yaml

KUBERNETES_VERSION = "1.33.0"

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

# The custom kinds plat emits: (release folder of the CRDs, output folder, CRD file, version).
# Each CRD file is `git show <tag>:<path>` of its upstream repository (schemas/README.md).
CRDS = [
    ("cloudnative-pg-v1.30.0", "cloudnative-pg-1.30.0", "postgresql.cnpg.io_clusters.yaml", "v1"),
    ("cloudnative-pg-v1.30.0", "cloudnative-pg-1.30.0", "postgresql.cnpg.io_scheduledbackups.yaml", "v1"),
    (
        "redis-operator-v0.26.0",
        "redis-operator-0.26.0",
        "redis.redis.opstreelabs.in_redisclusters.yaml",
        "v1beta2",
    ),
    ("external-secrets-v2.9.0", "external-secrets-2.9.0", "external-secrets.io_externalsecrets.yaml", "v1"),
    (
        "plugin-barman-cloud-v0.14.0",
        "plugin-barman-cloud-0.14.0",
        "barmancloud.cnpg.io_objectstores.yaml",
        "v1",
    ),
    (
        "prometheus-operator-v0.93.0",
        "prometheus-operator-0.93.0",
        "monitoring.coreos.com_prometheusrules.yaml",
        "v1",
    ),
    (
        "prometheus-operator-v0.93.0",
        "prometheus-operator-0.93.0",
        "monitoring.coreos.com_servicemonitors.yaml",
        "v1",
    ),
    (
        "prometheus-operator-v0.93.0",
        "prometheus-operator-0.93.0",
        "monitoring.coreos.com_podmonitors.yaml",
        "v1",
    ),
    (
        "prometheus-operator-v0.93.0",
        "prometheus-operator-0.93.0",
        "monitoring.coreos.com_alertmanagers.yaml",
        "v1",
    ),
]

# The sha256 of each upstream CRD file, so that a regeneration from other bytes fails loudly.
CRD_SHA256 = {
    "cloudnative-pg-v1.30.0/postgresql.cnpg.io_clusters.yaml": "ae47f4a00f6e998faef57e480f9a3960cd48ea16a79270861fc7442601507472",
    "cloudnative-pg-v1.30.0/postgresql.cnpg.io_scheduledbackups.yaml": "1dffb969a92ed6b09abe59d9c848ff97c6646c7824e75f8e0b8379df8473a145",
    "external-secrets-v2.9.0/external-secrets.io_externalsecrets.yaml": "5044be5a610ca90a075f34f03ed20b462695c43387ba9410db7f4250e47b1e2f",
    "plugin-barman-cloud-v0.14.0/barmancloud.cnpg.io_objectstores.yaml": "7c98720494253421339acd03aa77487869326ea20d4768a0c3aef8ff076daaef",
    "prometheus-operator-v0.93.0/monitoring.coreos.com_alertmanagers.yaml": "0e8eccd22699818c93f619c8fe2d92dbbd783a7e9232827a886dedeac1fb5dc1",
    "prometheus-operator-v0.93.0/monitoring.coreos.com_podmonitors.yaml": "45a93443daa687d3654f7e9631909ff7edcdf3ec09c5e60251b74aa2722aee5d",
    "prometheus-operator-v0.93.0/monitoring.coreos.com_prometheusrules.yaml": "78be98554b9c8506ab2b4f4feb91c5f3a56e536a0a510f3a8e876a459970d56d",
    "prometheus-operator-v0.93.0/monitoring.coreos.com_servicemonitors.yaml": "a99047972c9dd7679ce2050b9968e8a08773492e671b3e17abd476d42aa78a32",
    "redis-operator-v0.26.0/redis.redis.opstreelabs.in_redisclusters.yaml": "2ad9627590c19cff08802aaa5adee68db9aa5987232c2451654216232a55455c",
}

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


def load_crd(path):
    """A CRD file as data. PyYAML (YAML 1.1) reads a bare `=` as the `value` tag; it is a string."""

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))
    with open(path, "rb") as f:
        data = f.read()
    digest = hashlib.sha256(data).hexdigest()
    return yaml.load(data, Loader=Loader), digest


def crd_schema(crd, version):
    """The strict openAPIV3Schema of one served version, with apiVersion and kind pinned."""
    (entry,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    assert entry["served"], f"{crd['metadata']['name']} {version} is not served"
    schema = entry["schema"]["openAPIV3Schema"]
    walk(schema, make_strict)
    props = schema["properties"]
    # The API server routes an object by these two; the CRD leaves them as plain strings.
    props["apiVersion"] = {"type": "string", "enum": [f"{crd['spec']['group']}/{version}"]}
    props["kind"] = {"type": "string", "enum": [crd["spec"]["names"]["kind"]]}
    props["metadata"] = {"$ref": DEFS_PREFIX + OBJECT_META}
    schema.setdefault("required", [])
    for key in ("apiVersion", "kind", "metadata"):
        if key not in schema["required"]:
            schema["required"].append(key)
    return schema


def crds(crd_root, definitions, sizes):
    for folder, out_folder, file, version in CRDS:
        crd, digest = load_crd(os.path.join(crd_root, folder, file))
        expected = CRD_SHA256[f"{folder}/{file}"]
        if digest != expected:
            sys.exit(f"{folder}/{file}: sha256 {digest}, expected {expected} (not the upstream file?)")
        group = crd["spec"]["group"]
        kind = crd["spec"]["names"]["kind"]
        name = f"{kind.lower()}-{group}-{version}"
        write(f"{out_folder}/{name}.json", bundle(crd_schema(crd, version), definitions), sizes)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--crds",
        required=True,
        help="folder with the upstream CRD files, one subfolder per release (schemas/README.md)",
    )
    args = parser.parse_args()
    sizes = []
    definitions = kubernetes(sizes)
    crds(args.crds, definitions, sizes)
    version = importlib.metadata.version("kubernetes-validate")
    print(f"kubernetes-validate {version}, Kubernetes {KUBERNETES_VERSION}")
    for path, size in sizes:
        print(f"{size:>9}  {path}")
    print(f"{sum(s for _, s in sizes):>9}  total")


if __name__ == "__main__":
    sys.exit(main())
