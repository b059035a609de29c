//! The simulated image service: what containerd would answer for a pull. An image whose
//! name contains `doesnotexist` is not found (the usual way to show ErrImagePull); any
//! other is "pulled", with a digest and size derived from its name so they are the same
//! on every node and every run.

use std::time::Duration;

/// What marks an image as unpullable.
pub const MISSING_MARKER: &str = "doesnotexist";

/// A pulled image: its normalized reference, digest reference and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    /// `docker.io/library/nginx:latest`, as `containerStatuses[].image` shows it.
    pub reference: String,
    /// `docker.io/library/nginx@sha256:…`, as `imageID` shows it.
    pub image_id: String,
    pub size: u64,
    /// How long the pull took (simulated).
    pub took: Duration,
}

/// How long a pull of an image the node already has takes (the registry only confirms
/// the digest).
pub const CACHED_PULL: Duration = Duration::from_millis(12);

/// containerd's answer to a pull of an image that is not in its registry.
pub fn not_found_error(image: &str) -> String {
    let r = normalize(image);
    format!(
        "rpc error: code = NotFound desc = failed to pull and unpack image \"{r}\": failed to resolve reference \"{r}\": {r}: not found"
    )
}

/// Docker's reference normalization (`docker.io/library/` for official images, `:latest`
/// when no tag or digest is given).
pub fn normalize(image: &str) -> String {
    let (first, _) = image.split_once('/').unwrap_or(("", image));
    let has_registry = image.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let named = match (has_registry, image.contains('/')) {
        (true, _) => image.to_string(),
        (false, true) => format!("docker.io/{image}"),
        (false, false) => format!("docker.io/library/{image}"),
    };
    let last = named.rsplit('/').next().unwrap_or_default();
    if named.contains('@') || last.contains(':') {
        named
    } else {
        format!("{named}:latest")
    }
}

/// The repository part of a normalized reference (no tag, no digest).
fn repository(reference: &str) -> &str {
    let no_digest = reference.split('@').next().unwrap_or(reference);
    match no_digest.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => no_digest,
    }
}

fn digest(reference: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, reference.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Pulls `image`: the pulled image, or containerd's error.
pub fn pull(image: &str) -> Result<Pulled, String> {
    if image.contains(MISSING_MARKER) {
        return Err(not_found_error(image));
    }
    let reference = normalize(image);
    let hex = digest(&reference);
    let seed = u64::from_str_radix(&hex[..8], 16).unwrap_or(0);
    Ok(Pulled {
        image_id: format!("{}@sha256:{hex}", repository(&reference)),
        reference,
        size: 20_000_000 + seed % 60_000_000,
        took: Duration::from_millis(100 + seed % 300),
    })
}

/// Go's `time.Duration.String` for a duration truncated to milliseconds (`734ms`, `1.2s`).
pub fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let secs = format!("{}.{:03}", ms / 1000, ms % 1000);
    format!("{}s", secs.trim_end_matches('0').trim_end_matches('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_normalized_as_docker_does() {
        let cases = [
            ("nginx", "docker.io/library/nginx:latest"),
            ("nginx:1.27", "docker.io/library/nginx:1.27"),
            ("bitnami/redis", "docker.io/bitnami/redis:latest"),
            ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10"),
            ("localhost:5000/app", "localhost:5000/app:latest"),
            ("nginx@sha256:abc", "docker.io/library/nginx@sha256:abc"),
        ];
        for (image, want) in cases {
            assert_eq!(normalize(image), want, "{image}");
        }
    }

    #[test]
    fn a_pull_gives_a_stable_digest_or_the_not_found_error() {
        let a = pull("nginx").unwrap();
        assert_eq!(a, pull("nginx").unwrap());
        assert!(a.image_id.starts_with("docker.io/library/nginx@sha256:"), "{}", a.image_id);
        assert_eq!(a.image_id.len(), "docker.io/library/nginx@sha256:".len() + 64);
        assert_eq!(pull("localhost:5000/app:v1").unwrap().image_id.split('@').next(), Some("localhost:5000/app"));
        let e = pull("doesnotexist").unwrap_err();
        assert!(e.contains("failed to resolve reference \"docker.io/library/doesnotexist:latest\""), "{e}");
    }

    #[test]
    fn durations_print_as_go_prints_them() {
        let cases = [(0, "0s"), (734, "734ms"), (1000, "1s"), (1200, "1.2s"), (1203, "1.203s"), (12_050, "12.05s")];
        for (ms, want) in cases {
            assert_eq!(go_duration(Duration::from_millis(ms)), want);
        }
    }
}
