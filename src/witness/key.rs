//! The witness's Ed25519 cosigning key, `DIR/witness.key`.
//!
//! The file is one line, `AMITY-WITNESS-KEY <name> <base64 of the 32-byte seed>`, mode 0600.
//! The name is the witness's note key name (e.g. `witness.berlin.example/w1`); the public
//! vkey (`<name>+<key id>+base64(0x04 || key)`) is derived from it and printed by `keygen`,
//! `list` and `serve`, so there is no public file to keep in step.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use amity_verify::cosignature::Cosigner;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::SigningKey;

use super::WitnessError;

/// The key file inside the state directory.
pub const KEY_FILE: &str = "witness.key";

/// The first word of the key file.
const TAG: &str = "AMITY-WITNESS-KEY";

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WitnessError + '_ {
    move |source| WitnessError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Makes a new key named `name` in `dir` (created, mode 0700, if missing). Refuses to
/// overwrite an existing key: a witness that lost its key is a new witness.
pub fn create(dir: &Path, name: &str) -> Result<Cosigner, WitnessError> {
    let key = SigningKey::generate(&mut rand_core::OsRng);
    let cosigner = Cosigner::new(name, key.clone())
        .map_err(|_| WitnessError::InvalidName(name.to_string()))?;
    create_dir(dir)?;
    let path = dir.join(KEY_FILE);
    let text = format!("{TAG} {name} {}\n", B64.encode(key.to_bytes()));
    let mut options = fs::OpenOptions::new();
    // create_new: never overwrite a key, even one created by a concurrent keygen.
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            WitnessError::KeyExists(path.clone())
        } else {
            WitnessError::Io {
                path: path.clone(),
                source: e,
            }
        }
    })?;
    file.write_all(text.as_bytes()).map_err(io(&path))?;
    // Durable before the vkey is printed: an operator who publishes the vkey must find the
    // key after a power cut. The file's data, then its directory entry.
    file.sync_all().map_err(io(&path))?;
    sync_dir(dir)?;
    Ok(cosigner)
}

/// Loads the key from `dir`. Refuses a file other users can read (the key signs for the
/// witness) and anything that is not exactly the format above.
pub fn load(dir: &Path) -> Result<Cosigner, WitnessError> {
    let path = dir.join(KEY_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(WitnessError::NoKey(dir.to_path_buf()));
        }
        Err(e) => return Err(io(&path)(e)),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&path).map_err(io(&path))?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(WitnessError::KeyTooOpen { path, mode });
        }
    }
    let malformed = |reason: &str| WitnessError::MalformedKey {
        path: path.clone(),
        reason: reason.to_string(),
    };
    let line = text
        .strip_suffix('\n')
        .ok_or_else(|| malformed("no final newline"))?;
    let mut words = line.split(' ');
    let (Some(TAG), Some(name), Some(seed), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err(malformed(
            "expected `AMITY-WITNESS-KEY <name> <base64 seed>`",
        ));
    };
    let seed: [u8; 32] = B64
        .decode(seed)
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| malformed("the seed is not the base64 of 32 bytes"))?;
    Cosigner::new(name, SigningKey::from_bytes(&seed))
        .map_err(|e| malformed(&format!("invalid name {name:?}: {e}")))
}

/// Creates the state directory, private to its owner (it holds the key and the state).
pub fn create_dir(dir: &Path) -> Result<(), WitnessError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(io(dir))
}

/// fsync of a directory, so an entry created in it survives a power cut.
fn sync_dir(dir: &Path) -> Result<(), WitnessError> {
    let path: PathBuf = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir.to_path_buf()
    };
    fs::File::open(&path)
        .and_then(|d| d.sync_all())
        .map_err(io(&path))
}
