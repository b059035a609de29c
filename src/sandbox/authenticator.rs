//! Who a bearer token belongs to: the one token authenticator that both the front door
//! (every request) and TokenReview (a client asking about someone else's token) consult,
//! as kube-apiserver hands its request authenticator to the TokenReview REST.
//!
//! The sandbox knows one token: its admin's, written into the kubeconfig, in
//! `system:masters`.

/// Who the admin token authenticates as.
pub const ADMIN_USER: &str = "kubelab-admin";
/// The groups of the admin: privileged, and authenticated like every user with a token.
pub const ADMIN_GROUPS: &[&str] = &["system:masters", "system:authenticated"];

/// `bearertoken.go`'s error when no authenticator knew the token.
pub const INVALID_TOKEN: &str = "invalid bearer token";

/// An authenticated user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserInfo {
    pub username: &'static str,
    pub groups: &'static [&'static str],
}

pub struct TokenAuthenticator {
    admin_token: String,
}

impl TokenAuthenticator {
    pub fn new(admin_token: String) -> Self {
        TokenAuthenticator { admin_token }
    }

    /// The user `token` authenticates, compared in constant time.
    pub fn authenticate(&self, token: &[u8]) -> Option<UserInfo> {
        constant_time_eq(token, self.admin_token.as_bytes()).then_some(UserInfo { username: ADMIN_USER, groups: ADMIN_GROUPS })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_admin_token_authenticates() {
        let a = TokenAuthenticator::new("s3cret".into());
        assert_eq!(a.authenticate(b"s3cret").map(|u| u.username), Some(ADMIN_USER));
        for other in [&b"s3cre"[..], b"s3cret ", b"", b"S3CRET"] {
            assert_eq!(a.authenticate(other), None, "{other:?}");
        }
    }
}
