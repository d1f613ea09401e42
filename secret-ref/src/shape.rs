//! Where a configuration type keeps its secrets, known at compile time: what
//! [`secret_paths`](crate::secret_paths) reads and the derive writes.
//!
//! ```
//! use secret_ref::shape::Shape;
//! use secret_ref::{ResolveSecrets, Secret};
//!
//! assert!(matches!(<Secret<String> as ResolveSecrets>::SHAPE, Shape::Secret));
//! assert!(matches!(<Vec<Secret<String>> as ResolveSecrets>::SHAPE, Shape::List(_)));
//! ```

pub use crate::resolve::{Field, Shape};
