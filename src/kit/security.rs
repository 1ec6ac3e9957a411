//! Security contexts that satisfy the Pod Security Standard "restricted".

use serde_json::{Value, json};

/// A container that cannot gain privileges, has no capabilities and a read-only root file system
/// unless `read_only_root` is false (a reasoned exception of the spec).
pub fn container_security(read_only_root: bool) -> Value {
    json!({
        "allowPrivilegeEscalation": false,
        "readOnlyRootFilesystem": read_only_root,
        "runAsNonRoot": true,
        "capabilities": { "drop": ["ALL"] },
        "seccompProfile": { "type": "RuntimeDefault" },
    })
}

/// A pod that runs as `uid` (and group `gid`, owning its volumes through `fs_group`).
pub fn pod_security(uid: i64, gid: i64, fs_group: i64) -> Value {
    json!({
        "runAsNonRoot": true,
        "runAsUser": uid,
        "runAsGroup": gid,
        "fsGroup": fs_group,
        "seccompProfile": { "type": "RuntimeDefault" },
    })
}
