//! Kong's `base64_decode` option (3.11+; kong.conf `vault_<vault>_base64_decode`), shared by
//! the backends that take it (aws, hcv; gcp and azure in Kong too).
//!
//! Kong: "Decode all secrets in this vault as base64. Useful for binary data. If some of the
//! secrets in the vault are not base64-encoded, an error will occur when using them." Each
//! stored value is decoded by the backend, before the resolver applies a reference's `/key`:
//! the whole secret of a vault that stores one value per secret (aws, gcp, azure), each string
//! field of a KV secret (hcv, whose secret is the KV data object Kong re-encodes as JSON, so
//! that decoding it whole could never work). Kong's own code for it is not public (Kong Enterprise); the order is
//! the one of Kong's vault interface, where the strategy's `get` returns the value the
//! reference's key is then read from.
//!
//! The option is a [selector](super::OptionClass::Selector): it chooses how the chosen secret
//! is read, as `/key` and `#version` do, and decides nothing about credentials, files or TLS;
//! so a reference may set it (`{vault://aws/tls-cert?base64_decode=true}`), which serves the
//! mixed vaults Kong's documentation warns about.
//!
//! Decoding takes the standard alphabet (`+/`), padding optional, and ignores ASCII
//! whitespace (the line breaks of `base64` output). The bytes must be UTF-8 text, since
//! secret-ref holds secrets as text (Kong's Lua strings hold any bytes). Failures name the
//! secret and the field, never the value.

// Each backend uses the part it needs: a build with one backend leaves the rest unused.
#![allow(dead_code)]

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use zeroize::Zeroizing;

use super::{VaultConfig, VaultOption};
use crate::error::VaultError;

/// The option, for a backend's option list.
pub(crate) const BASE64_DECODE: VaultOption = VaultOption::selector("base64_decode");

/// Standard alphabet; `=` padding may be there or not.
const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Whether a request's configuration asks for decoding (`on`/`true`, `off`/`false`).
pub(crate) fn base64_wanted(config: &VaultConfig) -> Result<bool, VaultError> {
    Ok(config.flag(BASE64_DECODE.name())?.unwrap_or(false))
}

/// A backend's last step: `secret` decoded if the request's configuration asks for it,
/// else as it is. `what` names the secret in errors (`secret \`prod/tls\``).
pub(crate) fn apply_base64_decode(
    config: &VaultConfig,
    secret: Zeroizing<String>,
    what: &str,
) -> Result<Zeroizing<String>, VaultError> {
    if base64_wanted(config)? {
        decode_base64_text(&secret, what)
    } else {
        Ok(secret)
    }
}

/// `text` decoded from base64 into UTF-8 text, in buffers wiped when dropped and sized up
/// front (no growth leaves a copy behind).
pub(crate) fn decode_base64_text(text: &str, what: &str) -> Result<Zeroizing<String>, VaultError> {
    let mut compact = Zeroizing::new(Vec::with_capacity(text.len()));
    compact.extend(text.bytes().filter(|b| !b.is_ascii_whitespace()));
    let mut bytes = Zeroizing::new(vec![0u8; base64::decoded_len_estimate(compact.len())]);
    let n = ENGINE.decode_slice(&*compact, &mut bytes).map_err(|e| {
        // The error's position and byte are of the secret: only its kind is said.
        let why = match e {
            base64::DecodeSliceError::DecodeError(base64::DecodeError::InvalidPadding) => {
                "its padding is wrong"
            }
            base64::DecodeSliceError::DecodeError(base64::DecodeError::InvalidLength(_)) => {
                "its length is not one of base64"
            }
            _ => "it holds characters outside the base64 alphabet",
        };
        VaultError::bad_response(format!(
            "{what} is not base64 ({why}), but base64_decode is on"
        ))
    })?;
    bytes.truncate(n);
    match String::from_utf8(std::mem::take(&mut *bytes)) {
        Ok(text) => Ok(Zeroizing::new(text)),
        Err(e) => {
            drop(Zeroizing::new(e.into_bytes()));
            Err(VaultError::bad_response(format!(
                "{what}, decoded from base64, is not UTF-8 text (secret-ref holds secrets as \
                 text)"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn on() -> VaultConfig {
        [("base64_decode", "on")].into_iter().collect()
    }

    #[test]
    fn decodes_when_asked() {
        let s = |t: &str| Zeroizing::new(t.to_owned());
        assert_eq!(
            &*apply_base64_decode(&on(), s("aGVsbG8gd29ybGQ="), "x").unwrap(),
            "hello world"
        );
        // Padding optional, line breaks ignored.
        assert_eq!(
            &*apply_base64_decode(&on(), s("aGVsbG8g\nd29ybGQ\n"), "x").unwrap(),
            "hello world"
        );
        assert_eq!(
            &*apply_base64_decode(&VaultConfig::new(), s("aGVsbG8="), "x").unwrap(),
            "aGVsbG8="
        );
        let off: VaultConfig = [("base64_decode", "off")].into_iter().collect();
        assert_eq!(&*apply_base64_decode(&off, s("a"), "x").unwrap(), "a");
    }

    #[test]
    fn failures_name_the_secret_not_the_value() {
        for bad in ["c4n4ry!", "c4n4ryAAA=x", "c4n4r"] {
            let e = decode_base64_text(bad, "secret `s`").unwrap_err();
            assert_eq!(e.kind(), ErrorKind::BadResponse);
            assert!(e.to_string().starts_with("secret `s` is not base64"), "{e}");
            assert!(!format!("{e:?}").contains("c4n4r"));
        }
        // `//79` is bytes ff fe fd: not text.
        let e = decode_base64_text("//79", "secret `s`").unwrap_err();
        assert!(e.to_string().contains("not UTF-8"), "{e}");
        let bad: VaultConfig = [("base64_decode", "maybe")].into_iter().collect();
        assert_eq!(
            base64_wanted(&bad).unwrap_err().kind(),
            ErrorKind::InvalidConfig
        );
    }
}
