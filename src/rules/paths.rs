//! Paths inside a container: mount paths and the working directory, which the container runtime
//! resolves from the root of the container's file system.

use super::{Broken, Rule};

pub const ABSOLUTE: &str = "an absolute path inside the container, starting with '/' (the container runtime refuses a relative mount path or working directory)";

/// An absolute path such as `/var/cache/app`.
pub fn absolute(path: &str) -> Rule {
    if path.starts_with('/') {
        Ok(())
    } else if path.is_empty() {
        Err(Broken::new("is empty", ABSOLUTE))
    } else {
        Err(Broken::new("is a relative path", ABSOLUTE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_paths() {
        assert_eq!(absolute("/data"), Ok(()));
        assert_eq!(absolute("data").unwrap_err().problem, "is a relative path");
        assert!(absolute("").is_err());
        assert!(absolute("./data").is_err());
    }
}
