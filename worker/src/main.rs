//! `verity-worker`: runs AIVM kernels with libtorch, trains in groups over libp2p, serves and
//! fetches content-addressed blobs, and benchmarks the machine. See `verity-worker --help`.
//!
//! This file only starts the process: the subcommands live in `cli/`, one file each, over the
//! `verity_worker` library.

mod cli;

use clap::Parser;

fn main() {
	// Process-wide settings read from the environment: before any thread exists.
	let prepared = verity_worker::torch_env::prepare_process();
	if !prepared.heap_policy {
		eprintln!("warning: glibc refused the heap settings; training steps will be slower");
	}
	// Bad arguments are refused here, before anything is read or written.
	let cli = cli::Cli::parse();
	tracing_subscriber::fmt()
		.with_env_filter(
			tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
		)
		.with_writer(verity_worker::progress::Logs)
		.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
		.init();
	let runtime = tokio::runtime::Builder::new_multi_thread()
		.worker_threads(cli.runtime_threads.get())
		.enable_all()
		.build();
	let result = match runtime {
		Ok(rt) => rt.block_on(cli::run(cli.cmd)),
		Err(e) => Err(anyhow::Error::new(e).context("starting the async runtime")),
	};
	if let Err(e) = result {
		eprintln!("error: {e:#}");
		std::process::exit(1);
	}
}
