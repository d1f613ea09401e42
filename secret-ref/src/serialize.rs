//! Serialization that names the field of a failure: serde hands a value no path, so a
//! literal secret refusing to be written cannot say which field it is. [`serialize`] runs a
//! serializer through `serde_path_to_error`, which keeps the path as it goes, and puts it in
//! front of the error.

use std::cell::Cell;

use serde::{Serialize, Serializer};

thread_local! {
    /// Whether a [`serialize`] call is under way on this thread: the refusal then leaves out
    /// its hint to use [`serialize`], since the path will be in front of it.
    static NAMING_FIELDS: Cell<bool> = const { Cell::new(false) };
}

/// The error of a `Secret` or `Live` that holds a literal and is asked to serialize: writing a
/// password into a file should be a decision made per field.
pub(crate) fn literal_refused<E: serde::ser::Error>() -> E {
    const OPT_IN: &str = "opt in per field with \
         #[serde(serialize_with = \"secret_ref::ser::expose_literal\")] \
         or \"secret_ref::ser::redact_literal\"";
    if NAMING_FIELDS.with(Cell::get) {
        E::custom(format_args!(
            "refusing to serialize a literal secret; {OPT_IN}"
        ))
    } else {
        E::custom(format_args!(
            "refusing to serialize a literal secret (serialize with \
             `secret_ref::ser::serialize` to see which field); {OPT_IN}"
        ))
    }
}

/// Serializes `value` with `serializer` as `value.serialize(serializer)` does, and on failure
/// puts the field path in front of the error: `replicas[1].password: refusing to serialize a
/// literal secret; ...`. Works with any serde format.
///
/// ```
/// use secret_ref::Secret;
/// use serde::Serialize;
///
/// #[derive(Serialize)]
/// struct Replica { host: String, password: Secret<String> }
///
/// #[derive(Serialize)]
/// struct Config { replicas: Vec<Replica> }
///
/// let config = Config {
///     replicas: vec![
///         Replica { host: "a".into(), password: Secret::from_reference("{vault://env/a}".parse()?) },
///         Replica { host: "b".into(), password: Secret::new("c4n4ry".into()) },
///     ],
/// };
///
/// let mut out = Vec::new();
/// let err = secret_ref::ser::serialize(&config, &mut serde_json::Serializer::new(&mut out))
///     .unwrap_err();
/// assert!(err.to_string().starts_with(
///     "replicas[1].password: refusing to serialize a literal secret; opt in per field with"
/// ));
/// assert!(!err.to_string().contains("c4n4ry"));
///
/// // Without a literal, the same bytes as `serde_json::to_writer`.
/// let config = Config { replicas: vec![] };
/// let mut out = Vec::new();
/// secret_ref::ser::serialize(&config, &mut serde_json::Serializer::new(&mut out))?;
/// assert_eq!(out, serde_json::to_vec(&config)?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn serialize<T, S>(value: &T, serializer: S) -> Result<S::Ok, S::Error>
where
    T: Serialize + ?Sized,
    S: Serializer,
{
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            NAMING_FIELDS.with(|n| n.set(self.0));
        }
    }
    let _restore = Restore(NAMING_FIELDS.with(|n| n.replace(true)));
    serde_path_to_error::serialize(value, serializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        // `.` is the value itself: nothing to add.
        if path == "." {
            inner
        } else {
            serde::ser::Error::custom(format_args!("{path}: {inner}"))
        }
    })
}
