#!/usr/bin/env python3
"""Generates src/sandbox/registry/pod_update/go_types.rs: the layout of the *internal* Go
`core.PodSpec` and every struct under it, as a table.

Why: when a pod update changes a frozen field, kube-apiserver answers with a unified diff
of `json.MarshalIndent(core.PodSpec)`. Internal types have no json tags, so that text
spells Go field names, in declaration order, every field present (nulls included), with
embedded structs (`Volume` embeds `VolumeSource`) flattened into their parent. The sandbox
stores v1 JSON, so each internal field also needs the v1 JSON name it is read from; that
comes from the same-named v1 struct's json tag.

Read mechanically from the Kubernetes v1.34 sources in the local mirror:
* pkg/apis/core/types.go (internal types: field order, names, Go types),
* staging/src/k8s.io/api/core/v1/types.go (v1 json tags),
* staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/types.go (metav1.LabelSelector, which
  does have json tags: it is rendered with its tag names and `omitempty`).

Internal fields with no v1 counterpart in the same struct are listed in MOVED below (the
conversion code moves them, see pkg/apis/core/v1/conversion.go); any other unmatched field
stops the generator, so an upstream change cannot slip through silently.

Go types are written as strings the renderer parses: `string`, `bool`, `int32`, `int64`,
`*T`, `[]T`, `map[string]T`, `Quantity`, `ResourceList`, `IntOrString`, `Time`, `Raw`
(raw JSON), or a struct name. Named scalar
types (`type RestartPolicy string`) are resolved to their underlying type.

Usage: python3 scripts/gen-pod-spec-go.py > src/sandbox/registry/pod_update/go_types.rs
"""

import re
import subprocess
import sys

MIRROR = "/work/.mirror/openshift+microshift/repo"
COMMIT = "c92dcca0162b03600dc248f0be3a167a52151221"
PREFIX = "deps/github.com/openshift/kubernetes/"
INTERNAL = "pkg/apis/core/types.go"
V1 = "staging/src/k8s.io/api/core/v1/types.go"
META = "staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/types.go"
ROOT = "PodSpec"

# Internal fields whose v1 home is elsewhere: the sandbox moves them before rendering
# (PodSpec's host namespace fields live in the internal PodSecurityContext).
MOVED = {
    "PodSecurityContext.HostNetwork": "hostNetwork",
    "PodSecurityContext.HostPID": "hostPID",
    "PodSecurityContext.HostIPC": "hostIPC",
    "PodSecurityContext.ShareProcessNamespace": "shareProcessNamespace",
    "PodSecurityContext.HostUsers": "hostUsers",
}

# Types from other packages, by their qualified Go name.
FOREIGN = {
    "resource.Quantity": "Quantity",
    "intstr.IntOrString": "IntOrString",
    "metav1.LabelSelector": "LabelSelector",
    "types.UID": "string",
    "metav1.ObjectMeta": "ObjectMeta",
}

# Types inside metav1 with their own MarshalJSON.
META_SPECIAL = {"Time": "Time", "FieldsV1": "Raw", "types.UID": "string"}


def git_show(path):
    return subprocess.run(
        ["git", "--git-dir", MIRROR, "show", f"{COMMIT}:{PREFIX}{path}"], check=True, capture_output=True, text=True
    ).stdout


FIELD = re.compile(r"^(\w+)\s+([^\s`]+)\s*(`[^`]*`)?$")
EMBED = re.compile(r"^([\w.]+)\s*(`[^`]*`)?$")


def parse(src):
    """Struct declarations (name -> [(field, type, tag)], embedded fields with field None)
    and named non-struct types (name -> underlying type)."""
    structs, named = {}, {}
    src = re.sub(r"(?ms)^\s*/\*.*?\*/", "", src)
    lines = src.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^type (\w+) struct \{\s*$", line)
        if m:
            fields = []
            i += 1
            while lines[i] != "}":
                body = lines[i].split("//")[0].strip() if not lines[i].strip().startswith("//") else ""
                i += 1
                if not body:
                    continue
                f = FIELD.match(body)
                if f:
                    fields.append((f.group(1), f.group(2), f.group(3) or ""))
                    continue
                e = EMBED.match(body)
                if e:
                    fields.append((None, e.group(1), e.group(2) or ""))
                    continue
                sys.exit(f"cannot parse struct line {body!r} in {m.group(1)}")
            structs[m.group(1)] = fields
        else:
            m = re.match(r"^type (\w+) ([\w.\[\]*]+)\s*$", line)
            if m:
                named[m.group(1)] = m.group(2)
        i += 1
    return structs, named


def json_name(tag):
    m = re.search(r'json:"([^"]*)"', tag)
    if not m:
        return None, False
    parts = m.group(1).split(",")
    return parts[0], "omitempty" in parts[1:]


def main():
    internal, internal_named = parse(git_show(INTERNAL))
    v1, _ = parse(git_show(V1))
    meta, meta_named = parse(git_show(META))

    def flatten(structs, name):
        """Fields in json.Marshal order: an embedded struct's fields at the embedding's place,
        unless a json tag names the embedding (v1 `metav1.ObjectMeta `json:"metadata"``)."""
        out = []
        for field, ty, tag in structs[name]:
            if field is None and json_name(tag)[0]:
                out.append((ty.split(".")[-1], ty, tag))
            elif field is None and ty in structs:
                out.extend(flatten(structs, ty))
            elif field is None:
                out.append(("", ty, tag))  # a foreign struct, inlined by the renderer
            else:
                out.append((field, ty, tag))
        return out

    tables = {}  # struct name -> [(go name, json name, type, omitempty)]
    order = []
    pending = [(ROOT, "internal")]

    def resolve(ty, pkg):
        """A Go type expression as the renderer's type string; queues structs it names."""
        if ty.startswith("*"):
            return "*" + resolve(ty[1:], pkg)
        if ty.startswith("[]"):
            return "[]" + resolve(ty[2:], pkg)
        m = re.match(r"^map\[(\w+)\](.+)$", ty)
        if m:
            return f"map[string]{resolve(m.group(2), pkg)}"
        if ty in ("string", "bool", "int32", "int64"):
            return ty
        if ty == "ResourceList":
            return ty  # quantities the v1 defaults round up to milli-units
        if pkg == "meta" and ty in META_SPECIAL:
            return META_SPECIAL[ty]
        if ty in FOREIGN:
            target = FOREIGN[ty]
            if target in meta:
                pending.append((target, "meta"))
            return target
        structs, named = (internal, internal_named) if pkg == "internal" else (meta, meta_named)
        if ty in structs:
            pending.append((ty, pkg))
            return ty
        if ty in named:
            return resolve(named[ty], pkg)
        sys.exit(f"unknown Go type {ty!r}")

    while pending:
        name, pkg = pending.pop(0)
        if name in tables:
            continue
        tables[name] = None
        order.append(name)
        rows = []
        if pkg == "meta":
            for field, ty, tag in flatten(meta, name):
                js, omit = json_name(tag)
                if js == "-":
                    continue
                rows.append((js, js, resolve(ty, pkg), omit))
        else:
            v1_fields = {f: json_name(tag)[0] for f, _, tag in flatten(v1, name)} if name in v1 else {}
            for field, ty, _ in flatten(internal, name):
                if field == "":
                    # an untagged embedded foreign struct: Go inlines its (tagged) fields;
                    # v1 keeps it under the embedding's json name
                    js = v1_fields.get(ty.split(".")[-1])
                    rows.append(("", js, resolve(ty, pkg), False))
                    continue
                js = v1_fields.get(field) or MOVED.get(f"{name}.{field}")
                if not js:
                    sys.exit(f"internal field {name}.{field} has no v1 json name (add it to MOVED?)")
                rows.append((field, js, resolve(ty, pkg), False))
        tables[name] = rows

    print("// @generated by scripts/gen-pod-spec-go.py: do not edit by hand.")
    print("// Regenerate: python3 scripts/gen-pod-spec-go.py > src/sandbox/registry/pod_update/go_types.rs")
    print(f"// Source: kubernetes v1.34 ({INTERNAL}, {V1}, {META}).")
    print()
    print("use super::go_json::GoField;")
    print()
    print("/// Every struct under the internal `core.PodSpec`, fields in `json.Marshal` order.")
    print("pub static STRUCTS: &[(&str, &[GoField])] = &[")
    for name in order:
        print(f'    ("{name}", &[')
        for go, js, ty, omit in tables[name]:
            print(f'        GoField {{ go: "{go}", json: "{js}", ty: "{ty}", omitempty: {"true" if omit else "false"} }},')
        print("    ]),")
    print("];")


if __name__ == "__main__":
    main()
