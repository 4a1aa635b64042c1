//! Signing group entries with the identity key peers already know.
//!
//! A lanchat identity is an X25519 key pair ([`Identity`]); peers know each other by its
//! public half ([`NodeId`]). Group entries must be verifiable by anyone who relays them, so
//! they are signed with that same key by **XEdDSA** (Signal's specification for signing with
//! a Montgomery key: the X25519 private scalar is turned into an Ed25519 key pair whose
//! public key has sign bit 0, and the signature is an Ed25519 signature a verifier checks
//! against the Edwards form of the X25519 public key). The construction is the `xeddsa`
//! crate's (1.1, XEd25519 over curve25519-dalek 4, verified by ed25519-dalek 2); nothing
//! here is home-made beyond the domain separation and the nonce source.
//!
//! - Every signature covers [`DOMAIN`] followed by the entry's bytes, so a group signature
//!   means nothing anywhere else.
//! - XEdDSA takes 64 random bytes `Z` per signature. `proto` reads no OS randomness, so `Z`
//!   is a keyed hash (BLAKE2b) of a per-signer key, a counter and the message. The key
//!   mixes the identity secret with a seed the runtime draws at start: even if the seed
//!   were known, `Z` stays secret (the identity secret is in the key), and even if `Z`
//!   repeated, XEdDSA's `r = hash(a ‖ M ‖ Z)` is then deterministic EdDSA, which is safe.

use super::super::NodeId;
use super::super::secure::Identity;
use blake2::digest::{FixedOutput, KeyInit, Update};
use blake2::{Blake2b512, Blake2bMac512};
use rand_core::{TryCryptoRng, TryRng};
use std::convert::Infallible;
use xeddsa::xed25519::{PrivateKey, PublicKey};
use xeddsa::{Sign, Verify};

/// Bytes of a signature.
pub const SIGNATURE_BYTES: usize = 64;
/// What every group signature covers first.
pub const DOMAIN: &[u8] = b"lanchat group entry v1\0";

/// Signs group entries as this node.
pub struct Signer {
    key: PrivateKey,
    public: NodeId,
    /// Keys the nonce hash: the identity secret and the runtime's seed.
    nonce_key: [u8; 64],
    counter: u64,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({:?})", self.public)
    }
}

impl Signer {
    /// `seed`: fresh randomness from the runtime (tests pass a constant).
    pub fn new(identity: &Identity, seed: u64) -> Self {
        let mut h = Blake2b512::default();
        Update::update(&mut h, b"lanchat group nonce key\0");
        Update::update(&mut h, identity.secret());
        Update::update(&mut h, &seed.to_be_bytes());
        let nonce_key: [u8; 64] = h.finalize_fixed().into();
        Self {
            key: PrivateKey(*identity.secret()),
            public: identity.public(),
            nonce_key,
            counter: 0,
        }
    }

    pub fn public(&self) -> NodeId {
        self.public
    }

    /// The XEdDSA signature of [`DOMAIN`] ‖ `message`.
    pub fn sign(&mut self, message: &[u8]) -> [u8; SIGNATURE_BYTES] {
        self.counter += 1;
        let mut mac = match Blake2bMac512::new_from_slice(&self.nonce_key) {
            Ok(mac) => mac,
            // A 64-byte key is always accepted by BLAKE2b; fall back to the unkeyed hash of
            // the same inputs rather than panic.
            Err(_) => return self.sign_with(message, [0; 64]),
        };
        Update::update(&mut mac, &self.counter.to_be_bytes());
        Update::update(&mut mac, message);
        let z: [u8; 64] = mac.finalize_fixed().into();
        self.sign_with(message, z)
    }

    fn sign_with(&self, message: &[u8], z: [u8; 64]) -> [u8; SIGNATURE_BYTES] {
        let mut signed = Vec::with_capacity(DOMAIN.len() + message.len());
        signed.extend_from_slice(DOMAIN);
        signed.extend_from_slice(message);
        self.key.sign(&signed, Nonce { z, used: false })
    }
}

/// Is `signature` `author`'s XEdDSA signature of [`DOMAIN`] ‖ `message`?
pub fn verify(author: &NodeId, message: &[u8], signature: &[u8; SIGNATURE_BYTES]) -> bool {
    let mut signed = Vec::with_capacity(DOMAIN.len() + message.len());
    signed.extend_from_slice(DOMAIN);
    signed.extend_from_slice(message);
    PublicKey(author.0).verify(&signed, signature).is_ok()
}

/// The 64 bytes `Z` XEdDSA draws for one signature, handed over as the random source it
/// asks for. Anything asked beyond those 64 bytes is zeros (the crate asks for exactly 64).
struct Nonce {
    z: [u8; 64],
    used: bool,
}

impl TryRng for Nonce {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for (i, byte) in dst.iter_mut().enumerate() {
            *byte = if self.used {
                0
            } else {
                *self.z.get(i).unwrap_or(&0)
            };
        }
        self.used = true;
        Ok(())
    }
}

impl TryCryptoRng for Nonce {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_under_the_x25519_public_key_only() {
        for n in [1u8, 2, 7, 200] {
            let id = Identity::from_secret([n; 32]);
            let mut s = Signer::new(&id, 9);
            let sig = s.sign(b"hello group");
            assert!(verify(&id.public(), b"hello group", &sig));
            assert!(!verify(&id.public(), b"hello groua", &sig));
            let other = Identity::from_secret([n.wrapping_add(1); 32]).public();
            assert!(!verify(&other, b"hello group", &sig));
            let mut bent = sig;
            bent[5] ^= 1;
            assert!(!verify(&id.public(), b"hello group", &bent));
            bent = sig;
            bent[40] ^= 1;
            assert!(!verify(&id.public(), b"hello group", &bent));
        }
    }

    #[test]
    fn keys_made_like_real_identities_sign_too() {
        // Real identity secrets are 32 random bytes, not clamped: any byte pattern works.
        let mut rng = crate::rng::Rng::new(5);
        for _ in 0..20 {
            let mut secret = [0u8; 32];
            for chunk in secret.chunks_mut(8) {
                chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
            }
            let id = Identity::from_secret(secret);
            let mut s = Signer::new(&id, rng.next_u64());
            let sig = s.sign(b"m");
            assert!(verify(&id.public(), b"m", &sig));
        }
    }

    #[test]
    fn the_domain_is_part_of_what_is_signed() {
        let id = Identity::from_secret([3; 32]);
        let mut s = Signer::new(&id, 1);
        let sig = s.sign(b"x");
        // A plain XEdDSA signature of the same bytes without the domain does not pass.
        let raw: [u8; 64] = PrivateKey(*id.secret()).sign(
            b"x",
            Nonce {
                z: [7; 64],
                used: false,
            },
        );
        assert!(!verify(&id.public(), b"x", &raw));
        assert!(verify(&id.public(), b"x", &sig));
    }

    #[test]
    fn successive_signatures_of_the_same_bytes_differ_and_all_verify() {
        let id = Identity::from_secret([4; 32]);
        let mut s = Signer::new(&id, 1);
        let a = s.sign(b"same");
        let b = s.sign(b"same");
        assert_ne!(a, b);
        assert!(verify(&id.public(), b"same", &a) && verify(&id.public(), b"same", &b));
    }

    #[test]
    fn a_low_order_or_garbage_key_verifies_nothing() {
        let id = Identity::from_secret([4; 32]);
        let mut s = Signer::new(&id, 1);
        let sig = s.sign(b"m");
        for key in [[0u8; 32], [1u8; 32], [0xff; 32]] {
            assert!(!verify(&NodeId(key), b"m", &sig));
        }
    }
}
