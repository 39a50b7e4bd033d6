//! `verity-node`: the Verity chain's node.

mod chain_spec;
mod cli;
mod command;
mod rpc;
mod service;

fn main() {
	if let Err(e) = command::run() {
		// One line, so that a wrong `--chain` or a malformed spec reads as an answer, not a trace.
		let msg = e.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
		eprintln!("Error: {msg}");
		std::process::exit(1);
	}
}
