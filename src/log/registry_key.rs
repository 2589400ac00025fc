//! The registry's Ed25519 key: created in the keys directory on first start, kept private
//! (mode 0600, git-ignored), published as a C2SP verifier key and as an OpenSSH line.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;

use super::note::{NoteSigner, NoteVerifier};

/// File names inside the keys directory.
pub const PRIVATE_FILE: &str = "registry.skey";
pub const VKEY_FILE: &str = "registry.vkey";
pub const SSH_FILE: &str = "registry.pub";

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is readable by other users (mode {mode:o}); run `chmod 600 {path}` and start again"
    )]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("{path} is not a registry signing key: {reason}")]
    Malformed { path: PathBuf, reason: String },
    #[error(
        "{path} signs for `{found}` but this registry's origin is `{expected}`; set AMITY_ORIGIN \
         to `{found}` or point AMITY_KEYS_DIR elsewhere"
    )]
    OriginMismatch {
        path: PathBuf,
        found: String,
        expected: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyFileError + '_ {
    move |source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What happened when the key was loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrigin {
    Loaded,
    Created,
}

/// Loads the registry key from `dir`, creating it (and the public files) if absent.
pub fn load_or_create(dir: &Path, origin: &str) -> Result<(NoteSigner, KeyOrigin), KeyFileError> {
    let private = dir.join(PRIVATE_FILE);
    if private.exists() {
        let signer = load(&private, origin)?;
        // The public files are derived from the private key, so a missing one is remade
        // (a checkout that used to track them loses them on update); existing ones are
        // left alone, so a start never rewrites files it did not create.
        if !dir.join(VKEY_FILE).exists() || !dir.join(SSH_FILE).exists() {
            write_public(dir, &signer)?;
        }
        return Ok((signer, KeyOrigin::Loaded));
    }
    let signer = create(dir, origin)?;
    Ok((signer, KeyOrigin::Created))
}

/// Writes a new key pair into `dir`; refuses to overwrite an existing private key.
pub fn create(dir: &Path, origin: &str) -> Result<NoteSigner, KeyFileError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    let private = dir.join(PRIVATE_FILE);
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let signer = NoteSigner::new(origin, key).map_err(|e| KeyFileError::Malformed {
        path: private.clone(),
        reason: e.to_string(),
    })?;
    write_private(&private, &signer.to_skey())?;
    write_public(dir, &signer)?;
    Ok(signer)
}

fn write_private(path: &Path, text: &str) -> Result<(), KeyFileError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Created 0600 from the start: there is no moment when others could read it.
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io(path))?;
    file.write_all(text.as_bytes()).map_err(io(path))?;
    file.write_all(b"\n").map_err(io(path))?;
    file.sync_all().map_err(io(path))
}

/// Writes the public forms next to the private key (overwriting stale ones).
pub fn write_public(dir: &Path, signer: &NoteSigner) -> Result<(), KeyFileError> {
    let verifier = signer.verifier();
    let vkey = dir.join(VKEY_FILE);
    fs::write(&vkey, format!("{}\n", verifier.to_vkey())).map_err(io(&vkey))?;
    let ssh = dir.join(SSH_FILE);
    fs::write(&ssh, format!("{}\n", openssh_line(&verifier))).map_err(io(&ssh))?;
    Ok(())
}

fn load(path: &Path, origin: &str) -> Result<NoteSigner, KeyFileError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path).map_err(io(path))?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::TooOpen {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    let text = fs::read_to_string(path).map_err(io(path))?;
    let signer = NoteSigner::from_skey(text.trim()).map_err(|e| KeyFileError::Malformed {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    if signer.name() != origin {
        return Err(KeyFileError::OriginMismatch {
            path: path.to_path_buf(),
            found: signer.name().to_string(),
            expected: origin.to_string(),
        });
    }
    Ok(signer)
}

/// The key as an OpenSSH public key line, `ssh-ed25519 <base64 blob> <name>`.
pub fn openssh_line(verifier: &NoteVerifier) -> String {
    verifier.openssh_line()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_private_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let (a, how) = load_or_create(dir.path(), "registry.example.org").unwrap();
        assert_eq!(how, KeyOrigin::Created);
        let (b, how) = load_or_create(dir.path(), "registry.example.org").unwrap();
        assert_eq!(how, KeyOrigin::Loaded);
        assert_eq!(a.verifier().to_vkey(), b.verifier().to_vkey());
        let vkey = fs::read_to_string(dir.path().join(VKEY_FILE)).unwrap();
        assert!(vkey.starts_with("registry.example.org+"));
        let ssh = fs::read_to_string(dir.path().join(SSH_FILE)).unwrap();
        assert!(ssh.starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"));

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let private = dir.path().join(PRIVATE_FILE);
            let mode = fs::metadata(&private).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            fs::set_permissions(&private, fs::Permissions::from_mode(0o644)).unwrap();
            let err = load_or_create(dir.path(), "registry.example.org").unwrap_err();
            assert!(matches!(err, KeyFileError::TooOpen { .. }), "{err}");
            fs::set_permissions(&private, fs::Permissions::from_mode(0o600)).unwrap();
        }
        // A lost public file is remade from the private key on the next start.
        fs::remove_file(dir.path().join(VKEY_FILE)).unwrap();
        load_or_create(dir.path(), "registry.example.org").unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join(VKEY_FILE)).unwrap(),
            vkey,
        );
        let err = load_or_create(dir.path(), "other.example.org").unwrap_err();
        assert!(matches!(err, KeyFileError::OriginMismatch { .. }), "{err}");
    }
}
