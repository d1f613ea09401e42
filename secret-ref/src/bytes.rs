//! Byte secrets written as text: keys, salts, certificates' DER.
//!
//! A `Secret<Vec<u8>>` reads what serde gives a `Vec<u8>`: a JSON array of numbers, which is
//! rarely how a vault stores bytes. These two types say how the text is meant:
//!
//! - [`TextBytes`]: the text's own UTF-8 bytes (a passphrase used as a key);
//! - `Base64Bytes` (feature `base64`, on with every remote backend): the text decoded as
//!   base64, standard or URL-safe, padded or not, with line breaks allowed
//!   (`openssl rand -base64 32`, Kubernetes secrets' data).
//!
//! Both deref to `[u8]`, are wiped on drop (so is the text they came from), and never show
//! their bytes in `Debug` or in an error.
//!
//! ```
//! # #[cfg(feature = "base64")] {
//! use secret_ref::bytes::{Base64Bytes, TextBytes};
//! use secret_ref::{Resolver, ResolveSecrets, Secret};
//! use secret_ref::vault::env::EnvVault;
//! use serde::Deserialize;
//!
//! #[derive(Deserialize, ResolveSecrets)]
//! struct Config {
//!     hmac_key: Secret<Base64Bytes>,
//!     passphrase: Secret<TextBytes>,
//! }
//!
//! let resolver = Resolver::builder()
//!     .vault("env", EnvVault::from_vars([("HMAC_KEY", "AAEC/w=="), ("PASSPHRASE", "añb")]))
//!     .build()?;
//! let config: Config = resolver.scope(|| serde_json::from_str(r#"{
//!     "hmac_key": "{vault://env/hmac-key}",
//!     "passphrase": "{vault://env/passphrase}"
//! }"#))?;
//! assert_eq!(&**config.hmac_key.expose_secret(), [0, 1, 2, 255]);
//! assert_eq!(&**config.passphrase.expose_secret(), "añb".as_bytes());
//! # }
//! # Ok::<(), secret_ref::Error>(())
//! ```

use std::fmt;
use std::ops::Deref;

#[cfg(feature = "base64")]
use base64::Engine as _;
#[cfg(feature = "base64")]
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::de::{self, Deserialize, Deserializer, Visitor};
use zeroize::Zeroize;
#[cfg(feature = "base64")]
use zeroize::Zeroizing;

use crate::secret::CloneableSecret;

/// A byte secret written as text and used as its UTF-8 bytes; see the [module](self).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TextBytes(Vec<u8>);

/// A byte secret written as base64 text; see the [module](self).
#[cfg(feature = "base64")]
#[cfg_attr(docsrs, doc(cfg(feature = "base64")))]
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Base64Bytes(Vec<u8>);

macro_rules! common {
    ($t:ident) => {
        impl $t {
            /// The bytes, moved out (the caller now owns wiping them).
            pub fn into_vec(mut self) -> Vec<u8> {
                std::mem::take(&mut self.0)
            }
        }

        impl From<Vec<u8>> for $t {
            fn from(bytes: Vec<u8>) -> Self {
                $t(bytes)
            }
        }

        impl Deref for $t {
            type Target = [u8];

            fn deref(&self) -> &[u8] {
                &self.0
            }
        }

        impl AsRef<[u8]> for $t {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }

        impl Zeroize for $t {
            fn zeroize(&mut self) {
                self.0.zeroize();
            }
        }

        impl Drop for $t {
            fn drop(&mut self) {
                self.0.zeroize();
            }
        }

        impl CloneableSecret for $t {}

        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($t), "([REDACTED])"))
            }
        }
    };
}
common!(TextBytes);
#[cfg(feature = "base64")]
common!(Base64Bytes);

impl<'de> Deserialize<'de> for TextBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = TextBytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("text")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TextBytes, E> {
                Ok(TextBytes(v.as_bytes().to_vec()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<TextBytes, E> {
                Ok(TextBytes(v.into_bytes()))
            }
        }
        deserializer.deserialize_string(V)
    }
}

#[cfg(feature = "base64")]
/// Standard and URL-safe alphabets, padding optional: whichever the text is in.
const STANDARD: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
#[cfg(feature = "base64")]
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

#[cfg(feature = "base64")]
/// Decodes base64 text (line breaks and spaces ignored). The error never says which byte was
/// wrong or where: both would tell something of the secret.
pub(crate) fn decode_base64(text: &str) -> Result<Zeroizing<Vec<u8>>, &'static str> {
    let mut compact = Zeroizing::new(Vec::with_capacity(text.len()));
    compact.extend(text.bytes().filter(|b| !b.is_ascii_whitespace()));
    let engine = if compact.iter().any(|&b| b == b'-' || b == b'_') {
        &URL_SAFE
    } else {
        &STANDARD
    };
    let mut out = Zeroizing::new(Vec::with_capacity(compact.len() / 4 * 3 + 3));
    engine
        .decode_vec(&*compact, &mut out)
        .map_err(|_| "the text is not valid base64")?;
    Ok(out)
}

#[cfg(feature = "base64")]
impl<'de> Deserialize<'de> for Base64Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Base64Bytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("base64 text")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Base64Bytes, E> {
                let mut bytes = decode_base64(v).map_err(E::custom)?;
                Ok(Base64Bytes(std::mem::take(&mut *bytes)))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Base64Bytes, E> {
                let v = Zeroizing::new(v);
                self.visit_str(&v)
            }
        }
        deserializer.deserialize_string(V)
    }
}

#[cfg(all(test, feature = "base64"))]
mod tests {
    use super::*;

    #[test]
    fn alphabets_padding_and_line_breaks() {
        for text in ["AAEC/w==", "AAEC/w", "AAEC_w", "AAEC\n/w==\n"] {
            assert_eq!(
                decode_base64(text).unwrap().as_slice(),
                [0, 1, 2, 255],
                "{text}"
            );
        }
        assert_eq!(
            decode_base64("c2VjcmV0*").unwrap_err(),
            "the text is not valid base64"
        );
    }
}
