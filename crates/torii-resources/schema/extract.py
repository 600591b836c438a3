"""Extracts the OpenAPI constraints of the Gateway API CRDs torii reads into crd-constraints.json.

Usage: python3 extract.py CRD_DIR > crd-constraints.json
CRD_DIR: the experimental-channel CRDs of the Gateway API release (config/crd/experimental of
sigs.k8s.io/gateway-api@v1.5.1). Keeps, under `spec`, only what the API server enforces from the
structural schema: pattern, minimum, maximum, minItems, maxItems, minLength, maxLength, enum,
required (less the fields that have a default), and the uniqueness of `set` and `map` lists. A version whose schema equals an earlier
one's is written as that version's name. CEL rules (x-kubernetes-validations) are
written by hand in src/load/schema/cel.rs; their messages are listed here under "cel" so a test
can check every one is covered.
"""

import json
import os
import sys

import yaml

FILES = {
    "GatewayClass": "gateway.networking.k8s.io_gatewayclasses.yaml",
    "Gateway": "gateway.networking.k8s.io_gateways.yaml",
    "HTTPRoute": "gateway.networking.k8s.io_httproutes.yaml",
    "GRPCRoute": "gateway.networking.k8s.io_grpcroutes.yaml",
    "TLSRoute": "gateway.networking.k8s.io_tlsroutes.yaml",
    "TCPRoute": "gateway.networking.k8s.io_tcproutes.yaml",
    "ReferenceGrant": "gateway.networking.k8s.io_referencegrants.yaml",
}

KEYS = {
    "pattern": "pattern",
    "minimum": "minimum",
    "maximum": "maximum",
    "minItems": "minItems",
    "maxItems": "maxItems",
    "minLength": "minLength",
    "maxLength": "maxLength",
    "enum": "enum",
    "required": "required",
}


def reduce(schema, path, cel):
    node = {}
    for key, out in KEYS.items():
        if key in schema:
            node[out] = schema[key]
    # The API server defaults a missing field before it validates: a field with a default is
    # never missing.
    properties_in = schema.get("properties") or {}
    required = [name for name in node.get("required", []) if "default" not in properties_in.get(name, {})]
    if required:
        node["required"] = required
    else:
        node.pop("required", None)
    list_type = schema.get("x-kubernetes-list-type")
    if list_type == "set":
        node["unique"] = []
    elif list_type == "map":
        node["unique"] = schema["x-kubernetes-list-map-keys"]
    for rule in schema.get("x-kubernetes-validations", []) or []:
        cel.append({"path": path, "message": rule["message"]})
    properties = {}
    for name, sub in sorted((schema.get("properties") or {}).items()):
        reduced = reduce(sub, f"{path}.{name}", cel)
        if reduced:
            properties[name] = reduced
    if properties:
        node["properties"] = properties
    if "items" in schema:
        items = reduce(schema["items"], f"{path}[]", cel)
        if items:
            node["items"] = items
    if isinstance(schema.get("additionalProperties"), dict):
        values = reduce(schema["additionalProperties"], f"{path}{{}}", cel)
        if values:
            node["values"] = values
    return node


def main():
    directory = sys.argv[1]
    kinds = {}
    for kind, file in FILES.items():
        with open(os.path.join(directory, file), encoding="utf-8") as f:
            crd = yaml.safe_load(f)
        versions = {}
        for version in crd["spec"]["versions"]:
            if not version.get("served"):
                continue
            spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
            cel = []
            reduced = {"spec": reduce(spec, "spec", cel), "cel": cel}
            same = [name for name, other in versions.items() if other == reduced]
            versions[version["name"]] = same[0] if same else reduced
        kinds[kind] = versions
    json.dump({"source": "sigs.k8s.io/gateway-api@v1.5.1 config/crd/experimental", "kinds": kinds},
              sys.stdout, indent=None, separators=(",", ":"), sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
