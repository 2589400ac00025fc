//! Batch verification of Ed25519 signatures that accepts exactly what `verify_strict` accepts.
//!
//! `verify_strict` checks, per signature, that the encoding of `[s]B - [k]A` is byte for byte
//! the signature's R (with `k = SHA-512(R || A || M)`), and refuses a small-order R or A. A
//! batch equation `sum z_i ([s_i]B - [k_i]A_i - R_i) = 0` over random 128-bit `z_i` differs
//! from that on:
//!
//! - an R with a torsion component (`R = [r]B + T`, `T` of order 2, 4 or 8): the term
//!   `z_i T` vanishes whenever `z_i` is a multiple of `T`'s order (half the time for order 2),
//!   and a cofactored equation drops it always, so a batch can accept what `verify_strict`
//!   refuses (ed25519-dalek's `verify_batch` derives its `z_i` from the inputs, so a signer
//!   can even search for inputs that pass);
//! - a non-canonical R encoding (y >= p): decompression reduces y, so the equation sees the
//!   canonical point, while `verify_strict` compares bytes and refuses;
//! - a small-order R (the identity included), which `verify_strict` refuses outright.
//!
//! Here the keys are canonical, not small-order and torsion-free (what
//! [`PublicKey`](crate::keys::PublicKey) guarantees) and every R is screened for the
//! three cases above, so every point in the equation lies in the prime-order subgroup, where
//! it holds exactly when every `[s_i]B - [k_i]A_i - R_i` is zero (up to an error of about
//! 2^-128 over the random `z_i`), that is exactly when every `verify_strict` passes.
//!
//! The torsion screen is the expensive part when done point by point (one full scalar
//! multiplication per R, as costly as a verification). Instead, 128 random subset sums of the
//! R points are each checked once: a sum's torsion component is the sum of its members'
//! torsion components, so every sum is torsion-free if every member is, and if any member has
//! a torsion component, each random subset misses it with probability at most 1/2 (fix every
//! other choice: of the two sums with and without that member, at most one can have a zero
//! torsion component). 128 independent subsets miss it with probability at most 2^-128. The
//! subset sums share their work in windows of a few points (all sums of a window are
//! tabulated once), about 32 point additions per R instead of a 253-bit scalar multiplication.
//!
//! The equation itself is one multiscalar multiplication whose key terms are merged per
//! distinct key (`sum over i with A_i = A of z_i k_i`, times A once): an audit checks many
//! signatures by few keys, so this is about n + (number of keys) + 1 points instead of 2n + 1.

use std::collections::HashMap;

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{Identity, IsIdentity, VartimeMultiscalarMul};
use ed25519_dalek::Signature;
use rand::Rng;
use sha2::{Digest, Sha512};

use crate::keys::{PublicKey, y_is_reduced};

/// One signature to check: the exact bytes it signs, the signature and the key.
pub struct Signed<'a> {
    pub data: &'a [u8],
    pub signature: &'a Signature,
    pub key: &'a PublicKey,
}

/// Random subsets checked; each misses a torsion component with probability at most 1/2.
const TRIALS: usize = 128;

/// Points per window of the subset sums: tabulating a window's 2^W sums and adding one of them
/// into each of the 128 trials costs (2^W + 128) / W additions per point, lowest at 5 or 6.
const WINDOW: usize = 6;

/// True only if `verify_strict` accepts every signature (up to a 2^-128 error, as with any
/// batch). False says at least one fails; check each with `verify_strict` to name it.
pub fn verify_all_strict(items: &[Signed<'_>]) -> bool {
    let mut rng = rand::thread_rng();
    let mut r_points = Vec::with_capacity(items.len());
    let mut s_scalars = Vec::with_capacity(items.len());
    for item in items {
        // verify_strict refuses S >= L (without ed25519-dalek's legacy feature); so do we,
        // whatever features the build turns on.
        let s = Scalar::from_canonical_bytes(*item.signature.s_bytes());
        if s.is_none().into() {
            return false;
        }
        s_scalars.push(s.unwrap_or(Scalar::ZERO));
        match strict_r(item.signature.r_bytes()) {
            Some(point) => r_points.push(point),
            None => return false,
        }
    }
    if !all_torsion_free(&r_points, &mut rng) {
        return false;
    }
    // sum z_i R_i + sum_A (sum_{A_i = A} z_i k_i) A - (sum z_i s_i) B = 0
    let mut b_coefficient = Scalar::ZERO;
    let mut r_coefficients = Vec::with_capacity(items.len());
    let mut key_slot: HashMap<&[u8; 32], usize> = HashMap::new();
    let mut key_points: Vec<EdwardsPoint> = Vec::new();
    let mut key_coefficients: Vec<Scalar> = Vec::new();
    for (item, s) in items.iter().zip(&s_scalars) {
        let z = Scalar::from(rng.r#gen::<u128>());
        let key_bytes = item.key.as_bytes();
        let mut h = Sha512::new();
        h.update(item.signature.r_bytes());
        h.update(key_bytes);
        h.update(item.data);
        let k = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
        b_coefficient -= z * s;
        r_coefficients.push(z);
        let slot = *key_slot.entry(key_bytes).or_insert_with(|| {
            key_points.push(item.key.verifying_key().to_edwards());
            key_coefficients.push(Scalar::ZERO);
            key_points.len() - 1
        });
        if let Some(coefficient) = key_coefficients.get_mut(slot) {
            *coefficient += z * k;
        }
    }
    let sum = EdwardsPoint::vartime_multiscalar_mul(
        std::iter::once(b_coefficient)
            .chain(r_coefficients)
            .chain(key_coefficients),
        std::iter::once(ED25519_BASEPOINT_POINT)
            .chain(r_points)
            .chain(key_points),
    );
    sum.is_identity()
}

/// The R point, if its encoding is one `verify_strict` can accept: canonical and not of
/// small order. y < p is checked on the bytes; the only other non-canonical encodings (x = 0
/// with the sign bit set) are of y = 1 and y = -1, the identity and the point of order 2,
/// both small-order and refused as such.
fn strict_r(bytes: &[u8; 32]) -> Option<EdwardsPoint> {
    if !y_is_reduced(bytes) {
        return None;
    }
    let point = CompressedEdwardsY(*bytes).decompress()?;
    if point.is_small_order() {
        return None;
    }
    Some(point)
}

/// True if every point lies in the prime-order subgroup, false (except with probability at
/// most 2^-128) if any has a torsion component. See the module documentation.
// Every index below is bounded by construction: subset masks `s` are below
// 2^window.len() <= 2^WINDOW, the length of `table`.
#[allow(clippy::indexing_slicing)]
fn all_torsion_free(points: &[EdwardsPoint], rng: &mut impl Rng) -> bool {
    let mut sums = [EdwardsPoint::identity(); TRIALS];
    let mut table = [EdwardsPoint::identity(); 1 << WINDOW];
    for window in points.chunks(WINDOW) {
        // Bit t of masks[i]: whether point i of this window is in trial t's subset.
        let mut masks = [0u128; WINDOW];
        for mask in masks.iter_mut().take(window.len()) {
            *mask = rng.r#gen();
        }
        // table[s] is the sum of the window's points whose bits are set in s.
        for s in 1..(1usize << window.len()) {
            let lowest = s.trailing_zeros() as usize;
            table[s] = table[s & (s - 1)] + window[lowest];
        }
        for (t, sum) in sums.iter_mut().enumerate() {
            let mut s = 0usize;
            for (i, mask) in masks.iter().enumerate().take(window.len()) {
                s |= (((mask >> t) & 1) as usize) << i;
            }
            if s != 0 {
                *sum += table[s];
            }
        }
    }
    sums.iter().all(EdwardsPoint::is_torsion_free)
}

#[cfg(test)]
mod tests {
    use super::super::keys::test_support::y_plus_p;
    use super::*;
    use curve25519_dalek::constants::ED25519_BASEPOINT_POINT as B;
    use ed25519_dalek::{Signer, SigningKey};

    /// A point of order 8 (a standard small-order encoding), checked to be one.
    fn order_8() -> EdwardsPoint {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(
            "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
            &mut bytes,
        )
        .expect("hex");
        let t = CompressedEdwardsY(bytes)
            .decompress()
            .expect("on the curve");
        assert!(!times_2_pow(t, 2).is_identity() && times_2_pow(t, 3).is_identity());
        t
    }

    /// [2^k] p (curve25519-dalek keeps its own helper private).
    fn times_2_pow(p: EdwardsPoint, k: u32) -> EdwardsPoint {
        (0..k).fold(p, |q, _| q + q)
    }

    fn seed(n: u8) -> [u8; 32] {
        [n; 32]
    }

    /// Signs `message` like Ed25519 but with R = r B + `torsion`: the cofactored equation
    /// holds, `verify_strict` refuses it.
    fn sign_with_torsion(seed: &[u8; 32], message: &[u8], torsion: EdwardsPoint) -> Signature {
        let h = Sha512::digest(seed);
        let mut low = [0u8; 32];
        low.copy_from_slice(&h[..32]);
        let a = Scalar::from_bytes_mod_order(curve25519_dalek::scalar::clamp_integer(low));
        let public = (a * B).compress();
        let r = Scalar::from_bytes_mod_order_wide(&Sha512::digest(message).into());
        let big_r = (r * B + torsion).compress();
        let mut hasher = Sha512::new();
        hasher.update(big_r.as_bytes());
        hasher.update(public.as_bytes());
        hasher.update(message);
        let k = Scalar::from_bytes_mod_order_wide(&hasher.finalize().into());
        let s = r + k * a;
        Signature::from_components(*big_r.as_bytes(), s.to_bytes())
    }

    struct Fixture {
        keys: Vec<PublicKey>,
        messages: Vec<Vec<u8>>,
        signatures: Vec<Signature>,
    }

    impl Fixture {
        fn honest(n: usize) -> Fixture {
            let signers: Vec<SigningKey> =
                (0..4).map(|i| SigningKey::from_bytes(&seed(i))).collect();
            let messages: Vec<Vec<u8>> = (0..n)
                .map(|i| format!("message {i}").into_bytes())
                .collect();
            let signatures = messages
                .iter()
                .enumerate()
                .map(|(i, m)| signers[i % 4].sign(m))
                .collect();
            let keys = (0..n)
                .map(|i| PublicKey::from_signing_key(&signers[i % 4]))
                .collect();
            Fixture {
                keys,
                messages,
                signatures,
            }
        }

        fn items(&self) -> Vec<Signed<'_>> {
            (0..self.messages.len())
                .map(|i| Signed {
                    data: &self.messages[i],
                    signature: &self.signatures[i],
                    key: &self.keys[i],
                })
                .collect()
        }
    }

    #[test]
    fn honest_signatures_pass() {
        for n in [0, 1, 2, 7, 500] {
            let f = Fixture::honest(n);
            assert!(verify_all_strict(&f.items()), "n = {n}");
        }
    }

    #[test]
    fn a_wrong_signature_fails() {
        let mut f = Fixture::honest(300);
        f.messages[123] = b"other bytes".to_vec();
        assert!(!verify_all_strict(&f.items()));
    }

    /// The gap this module closes: a signature with a torsioned R satisfies the cofactored
    /// equation but not `verify_strict`, and so must not pass here, wherever it sits among
    /// honest ones and whatever the torsion's order.
    #[test]
    fn a_torsioned_r_fails_like_verify_strict() {
        let t8 = order_8();
        for (torsion, at) in [
            (t8, 0),
            (times_2_pow(t8, 1), 299),
            (times_2_pow(t8, 2), 150),
        ] {
            let mut f = Fixture::honest(300);
            let i = at;
            f.signatures[i] = sign_with_torsion(&seed((i % 4) as u8), &f.messages[i], torsion);
            let key = f.keys[i].verifying_key();
            assert!(key.verify_strict(&f.messages[i], &f.signatures[i]).is_err());
            // The cofactored equation holds for it: only the torsion separates it.
            let r = CompressedEdwardsY(*f.signatures[i].r_bytes())
                .decompress()
                .expect("R decompresses");
            assert!(!r.is_torsion_free() && !r.is_small_order());
            assert!(!verify_all_strict(&f.items()));
        }
    }

    #[test]
    fn the_torsion_screen_finds_any_torsioned_point() {
        let t8 = order_8();
        let honest: Vec<EdwardsPoint> = (1..=200u64).map(|i| Scalar::from(i) * B).collect();
        let mut rng = rand::thread_rng();
        assert!(all_torsion_free(&honest, &mut rng));
        assert!(all_torsion_free(&[], &mut rng));
        for (k, at) in [(0, 0), (1, 57), (2, 199), (3, 100)] {
            let mut points = honest.clone();
            points[at] += times_2_pow(t8, k % 3);
            assert!(!all_torsion_free(&points, &mut rng), "order {k}, at {at}");
        }
        // Two torsion components that cancel in a plain sum are still found.
        let mut points = honest.clone();
        points[3] += times_2_pow(t8, 2);
        points[4] += times_2_pow(t8, 2);
        assert!(!all_torsion_free(&points, &mut rng));
    }

    /// verify_strict compares R's bytes, so an R encoded with y >= p never passes it, even
    /// where the point it decompresses to would; the screen refuses those encodings.
    #[test]
    fn non_canonical_r_encodings_are_refused() {
        let mut decompressing = 0;
        for k in 0..=18u8 {
            for sign in [false, true] {
                let bytes = y_plus_p(k, sign);
                if CompressedEdwardsY(bytes).decompress().is_some() {
                    decompressing += 1;
                }
                assert!(strict_r(&bytes).is_none(), "y = p + {k}, sign {sign}");
            }
        }
        assert!(
            decompressing > 0,
            "the case is real: dalek decompresses some"
        );
        // The identity, with either sign bit, and the point of order 2 are small-order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(strict_r(&identity).is_none());
        identity[31] = 0x80;
        assert!(strict_r(&identity).is_none());
        assert!(strict_r(times_2_pow(order_8(), 2).compress().as_bytes()).is_none());
        // An honest R passes.
        let f = Fixture::honest(1);
        assert!(strict_r(f.signatures[0].r_bytes()).is_some());
    }
}
