#!/usr/bin/env python3
"""Generates src/sandbox/protobuf/schema.rs: the Kubernetes protobuf schema as a table.

Why a table and not a dependency: the sandbox only needs to *read* the protobuf bodies
clients send, field by field, into the JSON it already understands. The wire format is
simple; what it lacks is names. Those come from two crates' sources, read mechanically:

* k8s-pb (kube-rs' prost bindings of the upstream .proto files) gives every message's
  fields: tag, wire kind, repeated or not, map key/value kinds, the message type of nested
  fields, and the Go doc comment of each field.
* k8s-openapi (the crate the sandbox already uses, feature v1_34) gives each type's
  OpenAPI definition name with its real casing (`AWSElasticBlockStoreVolumeSource`), its
  JSON property names (`hostIPs`, which prost spelled `host_i_ps`), and the required ones.

A field's JSON name is the property that equals the prost name once both are lowercased
and stripped of separators (`host_i_ps` ~ `hostIPs`, `ref` ~ `$ref`). The zero-value policy (see `keep_zero` in the generated file) is derived here:
Go's protobuf encoder writes every non-pointer scalar even when it is zero, while Go's JSON
encoder omits it (`omitempty`), so a zero is only meaningful for required fields and for
pointer fields. Pointer fields are recognised from their Go comments ("This is a pointer
...") plus the POINTER_FIELDS list below.

Go structs embedded with `json:",inline"` (Volume embeds VolumeSource) are found too: a
message field with no property of its name whose message's fields are all properties of
the parent. They are marked `Kind::Inline`, and their fields take the parent's spellings.

Usage: python3 scripts/gen-protobuf-schema.py [K8S_PB_SRC K8S_OPENAPI_SRC] > src/sandbox/protobuf/schema.rs
Without arguments the crates are looked up in ~/.cargo/registry/src. k8s-openapi is there
after any build of kubelab; k8s-pb is not a dependency, so unpack it once from a scratch
crate: `cargo new --lib /tmp/pb && cd /tmp/pb && cargo add k8s-pb@0.9.0 && cargo fetch`.
"""

import glob
import os
import re
import sys

K8S_PB_VERSION = "0.9.0"
K8S_OPENAPI_FEATURE = "v1_34"

# Go pointer scalars whose comments do not say so, by "Type.jsonName". A zero in these is
# an explicit choice (`runAsUser: 0` is root, `automountServiceAccountToken: false` turns
# the default off), so it is kept; for any other optional scalar a zero means "unset".
POINTER_FIELDS = {
    "io.k8s.api.core.v1.PodSpec.automountServiceAccountToken",
    "io.k8s.api.core.v1.ServiceAccount.automountServiceAccountToken",
    "io.k8s.api.core.v1.PodSpec.enableServiceLinks",
    "io.k8s.api.core.v1.PodSpec.terminationGracePeriodSeconds",
    "io.k8s.api.core.v1.PodSpec.activeDeadlineSeconds",
    "io.k8s.api.core.v1.PodSpec.shareProcessNamespace",
    "io.k8s.api.core.v1.PodSpec.setHostnameAsFQDN",
    "io.k8s.api.core.v1.PodSpec.hostUsers",
    "io.k8s.api.core.v1.PodSpec.priority",
    "io.k8s.api.core.v1.PodSpec.runtimeClassName",
    "io.k8s.api.core.v1.PodSpec.preemptionPolicy",
    "io.k8s.api.core.v1.SecurityContext.privileged",
    "io.k8s.api.core.v1.SecurityContext.runAsUser",
    "io.k8s.api.core.v1.SecurityContext.runAsGroup",
    "io.k8s.api.core.v1.SecurityContext.runAsNonRoot",
    "io.k8s.api.core.v1.SecurityContext.readOnlyRootFilesystem",
    "io.k8s.api.core.v1.SecurityContext.allowPrivilegeEscalation",
    "io.k8s.api.core.v1.SecurityContext.procMount",
    "io.k8s.api.core.v1.PodSecurityContext.runAsUser",
    "io.k8s.api.core.v1.PodSecurityContext.runAsGroup",
    "io.k8s.api.core.v1.PodSecurityContext.runAsNonRoot",
    "io.k8s.api.core.v1.PodSecurityContext.fsGroup",
    "io.k8s.api.core.v1.PodSecurityContext.fsGroupChangePolicy",
    "io.k8s.api.core.v1.PodSecurityContext.supplementalGroupsPolicy",
    "io.k8s.api.core.v1.Secret.immutable",
    "io.k8s.api.core.v1.ConfigMap.immutable",
    "io.k8s.api.core.v1.ConfigMapVolumeSource.optional",
    "io.k8s.api.core.v1.ConfigMapProjection.optional",
    "io.k8s.api.core.v1.ConfigMapKeySelector.optional",
    "io.k8s.api.core.v1.ConfigMapEnvSource.optional",
    "io.k8s.api.core.v1.SecretVolumeSource.optional",
    "io.k8s.api.core.v1.SecretProjection.optional",
    "io.k8s.api.core.v1.SecretKeySelector.optional",
    "io.k8s.api.core.v1.SecretEnvSource.optional",
    "io.k8s.api.core.v1.KeyToPath.mode",
    "io.k8s.api.core.v1.ServiceAccountTokenProjection.expirationSeconds",
    "io.k8s.api.core.v1.DownwardAPIVolumeFile.mode",
    "io.k8s.api.core.v1.PersistentVolumeClaimSpec.storageClassName",
    "io.k8s.api.core.v1.PersistentVolumeClaimSpec.volumeMode",
    "io.k8s.api.core.v1.PersistentVolumeSpec.volumeMode",
    "io.k8s.api.core.v1.ServiceSpec.allocateLoadBalancerNodePorts",
    "io.k8s.api.core.v1.ServiceSpec.loadBalancerClass",
    "io.k8s.api.core.v1.ServiceSpec.internalTrafficPolicy",
    "io.k8s.api.core.v1.ServiceSpec.ipFamilyPolicy",
    "io.k8s.api.core.v1.ServiceSpec.trafficDistribution",
    "io.k8s.api.core.v1.Container.restartPolicy",
    "io.k8s.api.core.v1.EphemeralContainer.restartPolicy",
    "io.k8s.api.core.v1.ClientIPConfig.timeoutSeconds",
    "io.k8s.api.core.v1.Probe.terminationGracePeriodSeconds",
    "io.k8s.api.core.v1.EndpointPort.appProtocol",
    "io.k8s.api.core.v1.ServicePort.appProtocol",
    "io.k8s.api.apps.v1.DeploymentSpec.progressDeadlineSeconds",
    "io.k8s.api.apps.v1.StatefulSetSpec.replicas",
    "io.k8s.api.apps.v1.StatefulSetSpec.revisionHistoryLimit",
    "io.k8s.api.apps.v1.RollingUpdateStatefulSetStrategy.partition",
    "io.k8s.api.apps.v1.DaemonSetSpec.revisionHistoryLimit",
    "io.k8s.api.batch.v1.JobSpec.parallelism",
    "io.k8s.api.batch.v1.JobSpec.completions",
    "io.k8s.api.batch.v1.JobSpec.activeDeadlineSeconds",
    "io.k8s.api.batch.v1.JobSpec.backoffLimit",
    "io.k8s.api.batch.v1.JobSpec.backoffLimitPerIndex",
    "io.k8s.api.batch.v1.JobSpec.maxFailedIndexes",
    "io.k8s.api.batch.v1.JobSpec.ttlSecondsAfterFinished",
    "io.k8s.api.batch.v1.JobSpec.manualSelector",
    "io.k8s.api.batch.v1.JobSpec.suspend",
    "io.k8s.api.batch.v1.JobSpec.completionMode",
    "io.k8s.api.batch.v1.JobSpec.podReplacementPolicy",
    "io.k8s.api.batch.v1.JobSpec.managedBy",
    "io.k8s.api.batch.v1.CronJobSpec.startingDeadlineSeconds",
    "io.k8s.api.batch.v1.CronJobSpec.suspend",
    "io.k8s.api.batch.v1.CronJobSpec.successfulJobsHistoryLimit",
    "io.k8s.api.batch.v1.CronJobSpec.failedJobsHistoryLimit",
    "io.k8s.api.batch.v1.CronJobSpec.timeZone",
    "io.k8s.api.autoscaling.v1.HorizontalPodAutoscalerSpec.minReplicas",
    "io.k8s.api.autoscaling.v1.HorizontalPodAutoscalerSpec.targetCPUUtilizationPercentage",
    "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec.minReplicas",
    "io.k8s.api.policy.v1.PodDisruptionBudgetSpec.unhealthyPodEvictionPolicy",
    "io.k8s.api.networking.v1.NetworkPolicyPort.endPort",
    "io.k8s.api.admissionregistration.v1.MutatingWebhook.timeoutSeconds",
    "io.k8s.api.admissionregistration.v1.ValidatingWebhook.timeoutSeconds",
    "io.k8s.api.admissionregistration.v1.ServiceReference.port",
    "io.k8s.api.networking.v1.IngressSpec.ingressClassName",
    "io.k8s.api.storage.v1.StorageClass.allowVolumeExpansion",
    "io.k8s.api.storage.v1.StorageClass.reclaimPolicy",
    "io.k8s.api.storage.v1.StorageClass.volumeBindingMode",
    "io.k8s.api.discovery.v1.EndpointConditions.ready",
    "io.k8s.api.discovery.v1.EndpointConditions.serving",
    "io.k8s.api.discovery.v1.EndpointConditions.terminating",
    "io.k8s.api.discovery.v1.EndpointPort.port",
    "io.k8s.api.discovery.v1.EndpointPort.name",
    "io.k8s.api.discovery.v1.EndpointPort.protocol",
    "io.k8s.api.coordination.v1.LeaseSpec.leaseDurationSeconds",
    "io.k8s.api.coordination.v1.LeaseSpec.leaseTransitions",
    "io.k8s.api.coordination.v1.LeaseSpec.holderIdentity",
    "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta.deletionGracePeriodSeconds",
    "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference.controller",
    "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference.blockOwnerDeletion",
    "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta.remainingItemCount",
    "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions.gracePeriodSeconds",
    "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions.orphanDependents",
}

# A Go comment that says the field is a pointer ("This is a pointer to distinguish between
# explicit zero and not specified"). A stated non-zero default is no such sign: Probe's
# `timeoutSeconds` defaults to 1 and is a plain int32 that defaulting sets when zero.
POINTER_COMMENT = re.compile(r"\bpointer\b", re.IGNORECASE)

# The k8s-pb module path's first segment and the OpenAPI prefix it stands for.
MODULE_ROOTS = {
    "api": "io.k8s.api",
    "apimachinery": "io.k8s.apimachinery",
    "apiextensions_apiserver": "io.k8s.apiextensions-apiserver",
    "kube_aggregator": "io.k8s.kube-aggregator",
    "metrics": "io.k8s.metrics",
}


def registry_dir(crate):
    hits = sorted(glob.glob(os.path.expanduser(f"~/.cargo/registry/src/*/{crate}")))
    if not hits:
        sys.exit(f"{crate} is not in ~/.cargo/registry/src; fetch it first")
    return hits[-1]


def package_name(module_path):
    """`api::core::v1` -> `io.k8s.api.core.v1`."""
    root, *rest = module_path
    return ".".join([MODULE_ROOTS[root], *rest])


def resolve(current, rust_type):
    """The package and message name a prost field type refers to, from the current module."""
    path = [p for p in rust_type.replace(" ", "").split("::") if p]
    module = list(current)
    while path and path[0] == "super":
        module.pop()
        path.pop(0)
    if path and path[0] == "crate":
        module = []
        path.pop(0)
    return package_name(module + path[:-1]), path[-1]


def strip_wrappers(rust_type):
    """The element type inside Option<...>, Vec<...>, or a map's value."""
    t = rust_type.replace("\n", " ").replace(" ", "")
    for wrapper in ("::core::option::Option<", "::prost::alloc::vec::Vec<", "::prost::alloc::boxed::Box<"):
        if t.startswith(wrapper):
            t = t[len(wrapper):-1].rstrip(",")
    if "BTreeMap<" in t:
        inner = t[t.index("BTreeMap<") + len("BTreeMap<"):-1]
        t = inner.split(",", 1)[1].rstrip(",")
    return t


def parse_k8s_pb(src):
    """Every message: (package, prost name) -> list of fields."""
    messages = {}
    for path in glob.glob(os.path.join(src, "src/**/mod.rs"), recursive=True):
        rel = os.path.relpath(os.path.dirname(path), os.path.join(src, "src"))
        module = rel.split(os.sep)
        if module[0] not in MODULE_ROOTS:
            continue
        text = open(path).read()
        for m in re.finditer(r"pub struct (\w+) \{(?:\}|\n(.*?)\n\})", text, re.S):
            name, body = m.group(1), m.group(2) or ""
            fields = []
            doc = []
            lines = body.split("\n")
            i = 0
            while i < len(lines):
                line = lines[i].strip()
                if line.startswith("///"):
                    doc.append(line[3:].strip())
                elif line.startswith("#[prost("):
                    attr = line
                    decl = ""
                    i += 1
                    while not (decl.rstrip().endswith(",") and decl.count("<") == decl.count(">")):
                        decl += lines[i].strip() + " "
                        i += 1
                    i -= 1
                    fields.append(parse_field(module, attr, decl, " ".join(doc)))
                    doc = []
                i += 1
            messages[(package_name(module), name)] = fields
    return messages


def parse_field(module, attr, decl, doc):
    tag = int(re.search(r'tag = "(\d+)"', attr).group(1))
    rust_name, rust_type = decl.split(":", 1)
    rust_name = rust_name.replace("pub ", "").strip().removeprefix("r#")
    rust_type = rust_type.strip().rstrip(",")
    field = {"tag": tag, "rust": rust_name, "doc": doc, "repeated": ", repeated," in attr}
    map_kind = re.search(r'map = "string, (\w+)"', attr)
    if map_kind:
        field["map"] = True
        kind = map_kind.group(1)
    else:
        field["map"] = False
        kind = re.match(r"#\[prost\((\w+)", attr).group(1)
    field["kind"] = kind
    if kind == "message":
        field["message"] = resolve(module, strip_wrappers(rust_type))
    return field


def parse_k8s_openapi(src):
    """Definition name -> (json properties, required properties)."""
    definitions = {}
    for path in glob.glob(os.path.join(src, "src", K8S_OPENAPI_FEATURE, "**/*.rs"), recursive=True):
        text = open(path).read()
        head = re.match(r"// Generated from definition (\S+)", text)
        if not head:
            continue
        props = re.findall(r'^\s*"([^"]+)" => Field::Key_', text, re.M)
        required = re.search(r'"required": \[(.*?)\]', text, re.S)
        req = re.findall(r'"([^"]+)"', required.group(1)) if required else []
        definitions[head.group(1)] = (props, set(req))
    return definitions


def squash(name):
    """A name with its casing and separators gone: `hostIPs`, `host_i_ps` -> `hostips`;
    `$ref`, `ref` -> `ref`; `x-kubernetes-list-type`, `x_kubernetes_list_type` -> the same."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def lower_camel(snake):
    first, *rest = snake.split("_")
    return first + "".join(p[:1].upper() + p[1:] for p in rest)


def build(pb_src, openapi_src):
    messages = parse_k8s_pb(pb_src)
    definitions = parse_k8s_openapi(openapi_src)
    by_lower = {name.lower(): name for name in definitions}

    def full_name(package, prost_name):
        guess = f"{package}.{prost_name}"
        return by_lower.get(guess.lower(), guess)

    by_name = {full_name(p, n): fields for (p, n), fields in messages.items()}

    def squashed_props(name):
        return {squash(p): p for p in definitions.get(name, ([], set()))[0]}

    # Go's `json:",inline"` embedding (Volume embeds VolumeSource, Probe embeds
    # ProbeHandler): the field has no property of its own, the embedded struct's fields
    # are properties of the parent. Found as a message field without a property of its
    # name whose message's fields all are the parent's properties.
    # An embedded struct may embed another (RuleWithOperations embeds Rule), so the search
    # runs until nothing new is found, flattening what was found before.
    inlined = {}  # (parent, tag) -> embedded message name
    borrowed = {}  # embedded message name -> the parent whose properties name its fields

    def flat(name):
        names = set()
        for g in by_name.get(name, []):
            sub = inlined.get((name, g["tag"]))
            names |= flat(sub) if sub else {squash(g["rust"])}
        return names

    found = True
    while found:
        found = False
        for name, fields in by_name.items():
            props = squashed_props(name)
            for f in fields:
                if not props or f["kind"] != "message" or squash(f["rust"]) in props:
                    continue
                if (name, f["tag"]) in inlined:
                    continue
                target = full_name(*f["message"])
                own = flat(target)
                if own and own <= set(props):
                    inlined[(name, f["tag"])] = target
                    borrowed.setdefault(target, name)
                    found = True

    table = {}
    unmatched = []
    for name, fields in by_name.items():
        props_of = name if name in definitions else borrowed.get(name)
        props = squashed_props(props_of) if props_of else {}
        required = definitions.get(name, ([], set()))[1]
        rows = []
        for f in fields:
            json = props.get(squash(f["rust"]))
            target = full_name(*f["message"]) if f["kind"] == "message" else None
            inline = (name, f["tag"]) in inlined
            if json is None:
                json = lower_camel(f["rust"])
                if props and not inline:
                    unmatched.append(f"{name}.{f['rust']}")
            qualified = f"{name}.{json}"
            keep_zero = (
                json in required
                or qualified in POINTER_FIELDS
                or bool(POINTER_COMMENT.search(f["doc"]))
            )
            rows.append((f["tag"], json, f["kind"], f["repeated"], f["map"], keep_zero, target, inline))
        table[name] = sorted(rows)
    missing = {t for rows in table.values() for *_, t, _ in rows if t and t not in table}
    if missing:
        sys.exit(f"field types without a message: {sorted(missing)}")
    without = sum(1 for n in by_name if n not in definitions and n not in borrowed)
    return table, unmatched, without


KINDS = {
    "string": "Kind::String",
    "bool": "Kind::Bool",
    "int32": "Kind::Int32",
    "int64": "Kind::Int64",
    "double": "Kind::Double",
    "bytes": "Kind::Bytes",
}


def render(table):
    out = [
        "// @generated by scripts/gen-protobuf-schema.py: do not edit by hand.",
        "//",
        f"// Derived mechanically from the sources of the crates k8s-pb {K8S_PB_VERSION} (message",
        "// fields, tags and wire kinds, from its prost attributes) and k8s-openapi 0.29, feature",
        f"// {K8S_OPENAPI_FEATURE} (definition names, JSON property names, required properties).",
        "// Regenerate: python3 scripts/gen-protobuf-schema.py > src/sandbox/protobuf/schema.rs",
        "",
        "use super::table::{Field, Kind, Message};",
        "",
        "/// Every message, sorted by its OpenAPI definition name.",
        "pub static MESSAGES: &[Message] = &[",
    ]
    for name in sorted(table):
        out.append(f'    Message {{ name: "{name}", fields: &[')
        for tag, json, kind, repeated, is_map, keep_zero, target, inline in table[name]:
            if inline:
                k = f'Kind::Inline("{target}")'
            elif kind == "message":
                k = f'Kind::Message("{target}")'
            else:
                k = KINDS[kind]
            out.append(
                f'        Field {{ tag: {tag}, json: "{json}", kind: {k}, repeated: {str(repeated).lower()}, '
                f"map: {str(is_map).lower()}, keep_zero: {str(keep_zero).lower()} }},"
            )
        out.append("    ] },")
    out.append("];")
    return "\n".join(out) + "\n"


def main():
    if len(sys.argv) == 3:
        pb_src, openapi_src = sys.argv[1], sys.argv[2]
    else:
        pb_src = registry_dir(f"k8s-pb-{K8S_PB_VERSION}")
        openapi_src = registry_dir("k8s-openapi-0.29.*")
    table, unmatched, without = build(pb_src, openapi_src)
    for u in unmatched:
        print(f"note: no JSON property for {u}; using its lowerCamel spelling", file=sys.stderr)
    print(f"note: {without} messages have no OpenAPI definition (lists, options, old versions);"
          " their fields use lowerCamel spellings", file=sys.stderr)
    sys.stdout.write(render(table))


if __name__ == "__main__":
    main()
