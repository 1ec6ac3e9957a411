//! What plat knows about kinds without asking the cluster. Pure.
//!
//! Built-in kinds come from k8s-openapi compiled for the oldest supported Kubernetes (1.33): every
//! cluster plat supports serves them, with these plural names and scopes, so they need no discovery
//! request. Custom resources are resolved against the cluster (see `live.rs`); for the operators the
//! reference platform uses, this table also knows the CRD and the operator to name when it is missing.

use std::any::TypeId;

use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope, Resource};

use super::plan::GroupKind;

/// How to address one kind on the API server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceInfo {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub namespaced: bool,
}

impl ResourceInfo {
    pub fn api_version(&self) -> String {
        api_version(&self.group, &self.version)
    }

    /// The collection path: `/api/v1/namespaces/ns/configmaps`, `/apis/apps/v1/deployments` …
    pub fn collection_path(&self, namespace: Option<&str>) -> String {
        let prefix = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        match namespace.filter(|_| self.namespaced) {
            Some(ns) => format!("{prefix}/namespaces/{ns}/{}", self.plural),
            None => format!("{prefix}/{}", self.plural),
        }
    }

    pub fn group_kind(&self) -> GroupKind {
        GroupKind::new(&self.group, &self.kind)
    }

    /// The name a CustomResourceDefinition for this kind has: `<plural>.<group>`.
    pub fn crd_name(&self) -> String {
        format!("{}.{}", self.plural, self.group)
    }
}

pub fn api_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// Splits `apps/v1` into (`apps`, `v1`) and `v1` into (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.split_once('/').unwrap_or(("", api_version))
}

fn info<R: Resource>() -> ResourceInfo
where
    R::Scope: 'static,
{
    let scope = TypeId::of::<R::Scope>();
    debug_assert!(
        scope == TypeId::of::<NamespaceResourceScope>()
            || scope == TypeId::of::<ClusterResourceScope>()
    );
    ResourceInfo {
        group: R::GROUP.to_string(),
        version: R::VERSION.to_string(),
        kind: R::KIND.to_string(),
        plural: R::URL_PATH_SEGMENT.to_string(),
        namespaced: scope == TypeId::of::<NamespaceResourceScope>(),
    }
}

/// The built-in kinds plat may meet, at the version the manifest names.
pub fn builtin(group: &str, version: &str, kind: &str) -> Option<ResourceInfo> {
    builtins()
        .into_iter()
        .find(|r| r.group == group && r.version == version && r.kind == kind)
}

/// A built-in kind at the version plat would use for it (for kinds known only as `Kind.group`).
pub fn builtin_any(group: &str, kind: &str) -> Option<ResourceInfo> {
    builtins()
        .into_iter()
        .find(|r| r.group == group && r.kind == kind)
}

fn builtins() -> Vec<ResourceInfo> {
    use k8s_openapi::api::{
        apps::v1 as apps, autoscaling::v2 as autoscaling, batch::v1 as batch, core::v1 as core,
        networking::v1 as networking, policy::v1 as policy, rbac::v1 as rbac,
        scheduling::v1 as scheduling, storage::v1 as storage,
    };
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiext;
    use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1 as apireg;
    let all = [
        info::<core::Namespace>(),
        info::<core::ConfigMap>(),
        info::<core::Secret>(),
        info::<core::Service>(),
        info::<core::ServiceAccount>(),
        info::<core::PersistentVolumeClaim>(),
        info::<core::PersistentVolume>(),
        info::<core::ResourceQuota>(),
        info::<core::LimitRange>(),
        info::<core::Pod>(),
        info::<apps::Deployment>(),
        info::<apps::StatefulSet>(),
        info::<apps::DaemonSet>(),
        info::<batch::Job>(),
        info::<batch::CronJob>(),
        info::<autoscaling::HorizontalPodAutoscaler>(),
        info::<networking::Ingress>(),
        info::<networking::IngressClass>(),
        info::<networking::NetworkPolicy>(),
        info::<policy::PodDisruptionBudget>(),
        info::<rbac::Role>(),
        info::<rbac::RoleBinding>(),
        info::<rbac::ClusterRole>(),
        info::<rbac::ClusterRoleBinding>(),
        info::<scheduling::PriorityClass>(),
        info::<storage::StorageClass>(),
        info::<apiext::CustomResourceDefinition>(),
        info::<apireg::APIService>(),
        info::<k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration>(),
        info::<k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration>(),
    ];
    all.into()
}

/// The plural a custom resource most likely has (Kubernetes' own default: lower case, English
/// plural). Used only as a first guess that the list response confirms (`<Kind>List`); a wrong guess
/// costs one discovery request, never a wrong answer.
pub fn guess_plural(kind: &str) -> String {
    let word = kind.to_ascii_lowercase();
    if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|end| word.ends_with(end))
    {
        return format!("{word}es");
    }
    if let Some(stem) = word.strip_suffix('y')
        && !stem.ends_with(['a', 'e', 'i', 'o', 'u'])
    {
        return format!("{stem}ies");
    }
    format!("{word}s")
}

/// Who installs the CRDs of an API group, for the error that says a CRD is missing.
pub fn operator_for(group: &str) -> Option<&'static str> {
    let known: &[(&str, &str)] = &[
        (
            "postgresql.cnpg.io",
            "the CloudNativePG operator (cloudnative-pg)",
        ),
        (
            "redis.redis.opstreelabs.in",
            "the OT-Container-Kit redis-operator (opstree)",
        ),
        (
            "barmancloud.cnpg.io",
            "the Barman Cloud plugin for CloudNativePG (plugin-barman-cloud)",
        ),
        ("external-secrets.io", "the External Secrets Operator"),
        ("cert-manager.io", "cert-manager"),
        ("monitoring.coreos.com", "the Prometheus Operator"),
        ("minio.min.io", "the MinIO Operator"),
    ];
    known.iter().find(|(g, _)| *g == group).map(|(_, op)| *op)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_carry_plural_and_scope() {
        let deploy = builtin("apps", "v1", "Deployment").unwrap();
        assert_eq!(deploy.plural, "deployments");
        assert!(deploy.namespaced);
        assert_eq!(
            deploy.collection_path(Some("prod")),
            "/apis/apps/v1/namespaces/prod/deployments"
        );
        let ns = builtin("", "v1", "Namespace").unwrap();
        assert!(!ns.namespaced);
        assert_eq!(ns.collection_path(Some("prod")), "/api/v1/namespaces");
        let np = builtin("networking.k8s.io", "v1", "NetworkPolicy").unwrap();
        assert_eq!(np.plural, "networkpolicies");
        assert!(builtin("postgresql.cnpg.io", "v1", "Cluster").is_none());
        assert!(builtin("autoscaling", "v1", "HorizontalPodAutoscaler").is_none());
    }

    #[test]
    fn plural_guesses_follow_kubernetes_defaults() {
        assert_eq!(guess_plural("Cluster"), "clusters");
        assert_eq!(guess_plural("RedisCluster"), "redisclusters");
        assert_eq!(guess_plural("Policy"), "policies");
        assert_eq!(guess_plural("Ingress"), "ingresses");
        assert_eq!(guess_plural("Gateway"), "gateways");
    }

    #[test]
    fn crd_names_and_operators() {
        let r = ResourceInfo {
            group: "postgresql.cnpg.io".into(),
            version: "v1".into(),
            kind: "Cluster".into(),
            plural: "clusters".into(),
            namespaced: true,
        };
        assert_eq!(r.crd_name(), "clusters.postgresql.cnpg.io");
        assert!(
            operator_for("postgresql.cnpg.io")
                .unwrap()
                .contains("CloudNativePG")
        );
        assert_eq!(split_api_version("apps/v1"), ("apps", "v1"));
        assert_eq!(split_api_version("v1"), ("", "v1"));
    }
}
