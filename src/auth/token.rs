//! The token format: `snp_` + 32 base62 characters from the OS CSPRNG + a
//! 6-character base62 CRC32 of those 32, as GitHub's `ghp_…` tokens: secret
//! scanners recognise the prefix, and a mistyped or truncated token fails
//! the checksum before any database work. 32 base62 characters carry
//! 32·log2(62) ≈ 190 bits. Only the SHA-256 of a token is ever stored.

use std::fmt;

use sha2::{Digest, Sha256};

pub const PREFIX: &str = "snp_";
const RANDOM_LEN: usize = 32;
const CHECK_LEN: usize = 6;
/// `snp_` + 32 + 6.
pub const TOKEN_LEN: usize = PREFIX.len() + RANDOM_LEN + CHECK_LEN;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// SHA-256 of a token: what the database stores and the cache is keyed by.
pub type TokenHash = [u8; 32];

/// A token in clear: shown once, at creation. Debug does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        sha256(&self.0)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Why a string is not a token, without a database round trip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("not a snippetd token (expected snp_ and 38 letters or digits)")]
    Shape,
    #[error("the token's checksum does not match (mistyped or truncated?)")]
    Checksum,
}

pub fn sha256(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

pub fn hex(hash: &TokenHash) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lower- or upper-case hex of 32 bytes.
pub fn parse_hex(s: &str) -> Option<TokenHash> {
    let s = s.trim();
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// `n` as exactly `width` base62 digits, most significant first.
fn base62(mut n: u64, width: usize) -> String {
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out).expect("alphabet is ASCII")
}

fn checksum(random: &str) -> String {
    // 62^6 ≈ 5.7e10 > 2^32: every CRC32 fits in 6 digits.
    base62(u64::from(crc32fast::hash(random.as_bytes())), CHECK_LEN)
}

/// A fresh token from the OS CSPRNG. Rejection sampling keeps every
/// character uniform: bytes ≥ 248 (= 4·62) are drawn again.
pub fn generate() -> Result<Secret, getrandom::Error> {
    let mut random = String::with_capacity(RANDOM_LEN);
    let mut buf = [0u8; 64];
    while random.len() < RANDOM_LEN {
        getrandom::fill(&mut buf)?;
        for b in buf {
            if b < 248 && random.len() < RANDOM_LEN {
                random.push(ALPHABET[usize::from(b % 62)] as char);
            }
        }
    }
    let check = checksum(&random);
    Ok(Secret(format!("{PREFIX}{random}{check}")))
}

/// Checks the shape and the checksum; the hash to look up on success.
pub fn parse(token: &str) -> Result<TokenHash, Malformed> {
    let rest = token.strip_prefix(PREFIX).ok_or(Malformed::Shape)?;
    if token.len() != TOKEN_LEN || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Malformed::Shape);
    }
    let (random, check) = rest.split_at(RANDOM_LEN);
    if checksum(random) != check {
        return Err(Malformed::Checksum);
    }
    Ok(sha256(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_have_the_format_and_parse() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let t = generate().unwrap();
            let s = t.expose();
            assert_eq!(s.len(), TOKEN_LEN);
            assert!(s.starts_with("snp_"));
            assert!(s[4..].bytes().all(|b| b.is_ascii_alphanumeric()), "{s}");
            assert_eq!(parse(s), Ok(t.hash()));
            assert!(seen.insert(s.to_string()), "a repeated token");
        }
        assert!(!format!("{:?}", generate().unwrap()).contains("snp_"));
    }

    #[test]
    fn a_wrong_checksum_or_shape_is_rejected() {
        let t = generate().unwrap();
        let s = t.expose();
        // Change one character of the random part.
        let mut bytes = s.as_bytes().to_vec();
        bytes[10] = if bytes[10] == b'a' { b'b' } else { b'a' };
        let changed = String::from_utf8(bytes).unwrap();
        assert_eq!(parse(&changed), Err(Malformed::Checksum));
        for bad in [
            "",
            "snp_",
            &s[..s.len() - 1],
            &format!("{s}x"),
            &s.replacen("snp_", "ghp_", 1),
            &s.replacen("snp_", "SNP_", 1),
            &format!("snp_{}", "é".repeat(19)),
            &format!("snp_{}-", &s[4..s.len() - 1]),
        ] {
            assert_eq!(parse(bad), Err(Malformed::Shape), "{bad}");
        }
    }

    #[test]
    fn base62_digits() {
        assert_eq!(base62(0, 6), "000000");
        assert_eq!(base62(61, 2), "0z");
        assert_eq!(base62(62, 2), "10");
        assert_eq!(base62(u64::from(u32::MAX), 6), "4gfFC3");
        // A known CRC32 ("123456789" → 0xCBF43926), as base62.
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
        assert_eq!(checksum("123456789"), base62(0xCBF4_3926, 6));
    }

    #[test]
    fn hex_round_trips() {
        let h = sha256("x");
        assert_eq!(parse_hex(&hex(&h)), Some(h));
        assert_eq!(parse_hex(&hex(&h).to_uppercase()), Some(h));
        assert_eq!(parse_hex("abc"), None);
        assert_eq!(parse_hex(&"g".repeat(64)), None);
    }
}
