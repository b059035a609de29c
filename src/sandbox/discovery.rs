//! Discovery and OpenAPI: `/api`, `/api/v1`, `/apis`, `/apis/<g>[/<v>]`, `/openapi/v2`, `/openapi/v3...`.
//! (Placeholder signatures; implemented in its own change.)

use super::resources::Catalogue;
use super::status::ApiError;

/// A response body with its content type.
pub struct Document {
    pub content_type: String,
    pub body: bytes::Bytes,
}

/// Answers a discovery or OpenAPI path, or `None` when `path` is neither.
/// `accept` is the request's Accept header (aggregated discovery is negotiated through it).
pub fn serve(_path: &str, _accept: &str, _catalogue: &Catalogue) -> Option<Result<Document, ApiError>> {
    None
}
