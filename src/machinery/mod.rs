//! client-go's controller machinery, rebuilt in Rust so each piece can be watched at work.
