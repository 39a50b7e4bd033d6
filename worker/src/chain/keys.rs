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

#[cfg(test)]
mod tests {
	use super::*;
	use std::os::unix::fs::PermissionsExt;

	#[test]
	fn a_dev_uri_gives_its_well_known_account() {
		let key = load(Some("//Alice"), None).unwrap();
		assert_eq!(
			key.public_key().to_account_id().to_string(),
			"5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
		);
	}

	#[test]
	fn a_key_file_readable_by_others_is_refused_and_a_private_one_is_read() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("provider.key");
		std::fs::write(&path, "//Bob\n").unwrap();
		std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
		let err = load(None, Some(&path)).unwrap_err().to_string();
		assert!(err.contains("chmod 600"), "{err}");
		std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
		let key = load(None, Some(&path)).unwrap();
		assert_eq!(
			key.public_key().to_account_id().to_string(),
			"5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"
		);
	}

	#[test]
	fn a_bad_secret_is_refused_without_being_repeated() {
		let err = load(Some("not a mnemonic at all secretword"), None).unwrap_err().to_string();
		assert!(!err.contains("secretword"), "{err}");
		assert!(matches!(load(None, None), Err(KeyError::Source)));
		assert!(matches!(load(Some("//Alice"), Some(Path::new("/x"))), Err(KeyError::Source)));
	}
}
