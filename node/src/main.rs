//! `verity-node`: the Verity chain's node.

// `sc_cli::Error` and `sc_service::Error` are the sdk's error types, large by its design; every
// node built on the sdk carries them through its command handlers.
#![allow(clippy::result_large_err)]

mod chain_spec;
mod cli;
mod command;
mod equivocation;
mod rpc;
mod service;

fn main() {
	if let Err(e) = command::run() {
		eprintln!("Error: {}", one_line(&e.to_string()));
		std::process::exit(1);
	}
}

/// Longest error message printed; the rest is cut (genesis errors quote the whole genesis JSON).
const MAX_ERROR_CHARS: usize = 400;

/// An error message on one line, so that a wrong `--chain` or a malformed spec reads as an
/// answer, not a trace: whitespace collapsed, the quoted genesis blob dropped, length capped.
fn one_line(msg: &str) -> String {
	let msg = msg.split(" for blob: ").next().unwrap_or(msg);
	let msg = msg.split_whitespace().collect::<Vec<_>>().join(" ");
	match msg.char_indices().nth(MAX_ERROR_CHARS) {
		Some((cut, _)) => format!("{}…", &msg[..cut]),
		None => msg,
	}
}
