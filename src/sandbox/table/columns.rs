//! Column definitions as kube-apiserver's printers declare them, descriptions included.
//!
//! The descriptions are the API's field documentation (what `kubectl explain` shows); clients
//! may display them as column tooltips. They are compared verbatim by the fidelity corpus
//! (p15-table), so they are written down here once and shared by every printer.

use serde_json::{json, Value};

/// One `columnDefinitions` entry.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub type_: &'static str,
    pub format: &'static str,
    pub priority: i32,
    pub description: &'static str,
}

impl Column {
    pub const fn new(name: &'static str, description: &'static str) -> Self {
        Self { name, type_: "string", format: "", priority: 0, description }
    }
    /// Shown by `kubectl get -o wide` only.
    pub const fn wide(self) -> Self {
        Self { priority: 1, ..self }
    }
    pub const fn typed(self, type_: &'static str) -> Self {
        Self { type_, ..self }
    }
    pub fn to_json(self) -> Value {
        json!({"name": self.name, "type": self.type_, "format": self.format, "description": self.description, "priority": self.priority})
    }
}

/// The Name column every table starts with.
pub const NAME_COLUMN: Column = Column { name: "Name", type_: "string", format: "name", priority: 0, description: NAME };
pub const AGE_COLUMN: Column = Column::new("Age", AGE);

pub const NAME: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
pub const POD_READY: &str = "The aggregate readiness state of this pod for accepting traffic.";
pub const POD_STATUS: &str = "The aggregate status of the containers in this pod.";
pub const POD_RESTARTS: &str =
    "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.";
pub const AGE: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
pub const POD_IP: &str = "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.";
pub const POD_NODE: &str = "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename";
pub const POD_NOMINATED_NODE: &str = "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.";
pub const POD_READINESS_GATES: &str = "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates";
pub const NODE_STATUS: &str = "The status of the node";
pub const NODE_ROLES: &str = "The roles of the node";
pub const NODE_VERSION: &str = "Kubelet Version reported by the node.";
pub const NODE_ADDRESSES: &str = "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own status or consumers of the downward API (status.hostIP).";
pub const NODE_OS_IMAGE: &str = "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).";
pub const NODE_KERNEL_VERSION: &str = "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).";
pub const NODE_CONTAINER_RUNTIME: &str =
    "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).";
pub const DEPLOYMENT_READY: &str = "Number of the pod with ready state";
pub const DEPLOYMENT_UP_TO_DATE: &str =
    "Total number of non-terminating pods targeted by this deployment that have the desired template spec.";
pub const DEPLOYMENT_AVAILABLE: &str =
    "Total number of available non-terminating pods (ready for at least minReadySeconds) targeted by this deployment.";
pub const DEPLOYMENT_CONTAINERS: &str = "Names of each container in the template.";
pub const DEPLOYMENT_IMAGES: &str = "Images referenced by each container in the template.";
pub const DEPLOYMENT_SELECTOR: &str =
    "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.";
pub const SERVICE_TYPE: &str = "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer. \"ClusterIP\" allocates a cluster-internal IP address for load-balancing to endpoints. Endpoints are determined by the selector or if that is not specified, by manual construction of an Endpoints object or EndpointSlice objects. If clusterIP is \"None\", no virtual IP is allocated and the endpoints are published as a set of endpoints rather than a virtual IP. \"NodePort\" builds on ClusterIP and allocates a port on every node which routes to the same endpoints as the clusterIP. \"LoadBalancer\" builds on NodePort and creates an external load-balancer (if supported in the current cloud) which routes to the same endpoints as the clusterIP. \"ExternalName\" aliases this service to the specified externalName. Several other fields do not apply to ExternalName services. More info: https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types";
pub const SERVICE_CLUSTER_IP: &str = "clusterIP is the IP address of the service and is usually assigned randomly. If an address is specified manually, is in-range (as per system configuration), and is not in use, it will be allocated to the service; otherwise creation of the service will fail. This field may not be changed through updates unless the type field is also being changed to ExternalName (which requires this field to be blank) or the type field is being changed from ExternalName (in which case this field may optionally be specified, as describe above).  Valid values are \"None\", empty string (\"\"), or a valid IP address. Setting this to \"None\" makes a \"headless service\" (no virtual IP), which is useful when direct endpoint connections are preferred and proxying is not required.  Only applies to types ClusterIP, NodePort, and LoadBalancer. If this field is specified when creating a Service of type ExternalName, creation will fail. This field will be wiped when updating a Service to type ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies";
pub const SERVICE_EXTERNAL_IP: &str = "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.  These IPs are not managed by Kubernetes.  The user is responsible for ensuring that traffic arrives at a node with this IP.  A common example is external load-balancers that are not part of the Kubernetes system.";
pub const SERVICE_PORTS: &str = "The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies";
pub const SERVICE_SELECTOR: &str = "Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints, which Kubernetes will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/";
pub const CONFIGMAP_DATA: &str = "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.";
pub const REPLICASET_DESIRED: &str = "Replicas is the number of desired pods. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset";
pub const REPLICASET_CURRENT: &str = "Replicas is the most recently observed number of non-terminating pods. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset";
pub const REPLICASET_READY: &str = "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.";
pub const REPLICASET_SELECTOR: &str = "Selector is a label query over pods that should match the replica count. Label keys and values that must match in order to be controlled by this replica set. It must match the pod template's labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
pub const NAMESPACE_STATUS: &str = "The status of the namespace";
pub const SECRET_TYPE: &str = "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types";
pub const SECRET_DATA: &str = "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4";
pub const SERVICEACCOUNT_SECRETS: &str = "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use. Pods are only limited to this list if this service account has a \"kubernetes.io/enforce-mountable-secrets\" annotation set to \"true\". The \"kubernetes.io/enforce-mountable-secrets\" annotation is deprecated since v1.32. Prefer separate namespaces to isolate access to mounted secrets. This field should not be used to find auto-generated service account token secrets for use outside of pods. Instead, tokens can be requested directly using the TokenRequest API, or service account token secrets can be manually created. More info: https://kubernetes.io/docs/concepts/configuration/secret";
pub const EVENT_LAST_SEEN: &str = "The time at which the most recent occurrence of this event was recorded.";
pub const EVENT_TYPE: &str = "Type of this event (Normal, Warning), new types could be added in the future";
pub const EVENT_REASON: &str =
    "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.";
pub const EVENT_OBJECT: &str = "The object that this event is about.";
pub const EVENT_SUBOBJECT: &str = "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container within a pod, this would take on a value like: \"spec.containers{name}\" (where \"name\" refers to the name of the container that triggered the event) or if no container name is specified \"spec.containers[2]\" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object.";
pub const EVENT_SOURCE: &str = "The component reporting this event. Should be a short machine understandable string.";
pub const EVENT_MESSAGE: &str = "A human-readable description of the status of this operation.";
pub const EVENT_FIRST_SEEN: &str = "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)";
pub const EVENT_COUNT: &str = "The number of times this event has occurred.";

// Printers of kinds outside core and apps.
pub const JOB_COMPLETIONS: &str = "The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. However, it may decrease in reaction to scale down of elastic indexed jobs.";
pub const JOB_SELECTOR: &str = "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
pub const CRONJOB_SCHEDULE: &str = "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.";
pub const CRONJOB_TIMEZONE: &str = "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will default to the time zone of the kube-controller-manager process. The set of valid time zone names and the time zone offset is loaded from the system-wide time zone database by the API server during CronJob validation and the controller manager during execution. If no system-wide time zone database can be found a bundled version of the database is used instead. If the time zone name becomes invalid during the lifetime of a CronJob or due to a change in host configuration, the controller will stop creating new new Jobs and will create a system event with the reason UnknownTimeZone. More information can be found in https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones";
pub const CRONJOB_SUSPEND: &str =
    "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.  Defaults to false.";
pub const CRONJOB_ACTIVE: &str = "A list of pointers to currently running jobs.";
pub const CRONJOB_LAST_SCHEDULE: &str = "Information when was the last time the job was successfully scheduled.";
pub const ROLEBINDING_ROLE: &str = "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.";
pub const CLUSTERROLEBINDING_ROLE: &str = "RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.";
pub const PRIORITYCLASS_VALUE: &str = "value represents the integer value of this priority class. This is the actual priority that pods receive when they have the name of this class in their pod spec.";
pub const PRIORITYCLASS_GLOBAL_DEFAULT: &str = "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class. Only one PriorityClass can be marked as `globalDefault`. However, if more than one PriorityClasses exists with their `globalDefault` field set to true, the smallest value of such global default PriorityClasses will be used as the default priority.";
pub const PRIORITYCLASS_PREEMPTION_POLICY: &str = "preemptionPolicy is the Policy for preempting pods with lower priority. One of Never, PreemptLowerPriority. Defaults to PreemptLowerPriority if unset.";
pub const JOB_STATUS: &str = "Status of the job.";
pub const JOB_DURATION: &str = "Time required to complete the job.";
pub const PDB_MIN_AVAILABLE: &str = "The minimum number of pods that must be available.";
pub const PDB_MAX_UNAVAILABLE: &str = "The maximum number of pods that may be unavailable.";
pub const PDB_ALLOWED_DISRUPTIONS: &str = "Calculated number of pods that may be disrupted at this time.";
pub const INGRESS_CLASS: &str = "The name of the IngressClass resource that should be used for additional configuration";
pub const INGRESS_HOSTS: &str = "Hosts that incoming requests are matched against before the ingress rule";
pub const INGRESS_ADDRESS: &str = "Address is a list containing ingress points for the load-balancer";
pub const INGRESS_PORTS: &str = "Ports of TLS configurations that open";
pub const ROLEBINDING_USERS: &str = "Users in the roleBinding";
pub const ROLEBINDING_GROUPS: &str = "Groups in the roleBinding";
pub const ROLEBINDING_SERVICEACCOUNTS: &str = "ServiceAccounts in the roleBinding";
pub const CLUSTERROLEBINDING_USERS: &str = "Users in the clusterRoleBinding";
pub const CLUSTERROLEBINDING_GROUPS: &str = "Groups in the clusterRoleBinding";
pub const CLUSTERROLEBINDING_SERVICEACCOUNTS: &str = "ServiceAccounts in the clusterRoleBinding";
