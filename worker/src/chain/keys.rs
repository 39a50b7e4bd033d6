//! The provider's sr25519 key: from a secret URI (`--suri`, e.g. a mnemonic or `//Alice` on a dev
//! chain) or from a key file holding one. The secret is never printed; a key file readable by
//! anyone but its owner is refused.

use std::{path::Path, str::FromStr};
use subxt_signer::{sr25519::Keypair, SecretUri};

/// Why a key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
	/// Neither or both of `--suri` and `--key-file`.
	#[error("give exactly one of --suri and --key-file")]
	Source,
	/// The key file could not be read.
	#[error("key file {path}: {message}")]
	File {
		/// The file.
		path: String,
		/// Why.
		message: String,
	},
	/// The key file's permissions let others read it.
	#[error(
		"key file {path} is readable by group or others (mode {mode:o}); run `chmod 600 {path}`"
	)]
	Permissions {
		/// The file.
		path: String,
		/// Its mode bits.
		mode: u32,
	},
	/// Not a secret URI (the secret itself is not repeated in the message).
	#[error("the {source_name} is not a secret URI (a mnemonic, 0x seed or //dev path, with optional ///password)")]
	Invalid {
		/// `--suri` or the key file's name.
		source_name: String,
	},
}

/// Loads the key from exactly one of `suri` and `key_file`.
pub fn load(suri: Option<&str>, key_file: Option<&Path>) -> Result<Keypair, KeyError> {
	match (suri, key_file) {
		(Some(s), None) => parse(s, "--suri"),
		(None, Some(path)) => {
			let shown = path.display().to_string();
			let meta = std::fs::metadata(path)
				.map_err(|e| KeyError::File { path: shown.clone(), message: e.to_string() })?;
			#[cfg(unix)]
			{
				use std::os::unix::fs::PermissionsExt;
				let mode = meta.permissions().mode() & 0o777;
				if mode & 0o077 != 0 {
					return Err(KeyError::Permissions { path: shown, mode });
				}
			}
			let text = std::fs::read_to_string(path)
				.map_err(|e| KeyError::File { path: shown.clone(), message: e.to_string() })?;
			parse(text.trim(), &format!("key file {shown}"))
		}
		_ => Err(KeyError::Source),
	}
}

fn parse(s: &str, source_name: &str) -> Result<Keypair, KeyError> {
	let invalid = || KeyError::Invalid { source_name: source_name.into() };
	let uri = SecretUri::from_str(s).map_err(|_| invalid())?;
	Keypair::from_uri(&uri).map_err(|_| invalid())
}
