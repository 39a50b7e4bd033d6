//! Progress bars for long fetches, runs and epochs, drawn on stderr only when it is a terminal
//! (hidden otherwise: logs and CI output stay plain). Log lines go through [`Logs`], which lifts
//! the bars while a line is written, so the two never tear each other.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressStyle};
use std::{io::Write, sync::OnceLock};

/// Every bar of the process, one per line under the logs.
fn bars() -> &'static MultiProgress {
	static BARS: OnceLock<MultiProgress> = OnceLock::new();
	BARS.get_or_init(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
}

/// A new bar of `len` steps, labelled `what`. Dropped (finished
/// or not, e.g. on an error), it clears its line.
pub fn bar(len: u64, what: impl Into<String>) -> ProgressBar {
	let style = ProgressStyle::with_template("{msg:24} [{bar:30}] {pos}/{len} eta {eta}")
		.unwrap_or_else(|_| ProgressStyle::default_bar())
		.progress_chars("=> ");
	bars().add(
		ProgressBar::new(len)
			.with_style(style)
			.with_message(what.into())
			.with_finish(ProgressFinish::AndClear),
	)
}

/// The `tracing` writer: one event per line, written with the bars lifted.
pub struct Logs;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
	type Writer = Line;

	fn make_writer(&'a self) -> Line {
		Line(Vec::new())
	}
}

/// One log event, written to stderr when dropped.
pub struct Line(Vec<u8>);

impl Write for Line {
	fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
		self.0.extend_from_slice(buf);
		Ok(buf.len())
	}

	fn flush(&mut self) -> std::io::Result<()> {
		Ok(())
	}
}

impl Drop for Line {
	fn drop(&mut self) {
		let line = std::mem::take(&mut self.0);
		bars().suspend(|| {
			let _ = std::io::stderr().write_all(&line);
		});
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn bars_are_hidden_off_a_terminal_and_logs_pass_through_whole() {
		// Test processes' stderr is captured, not a terminal: nothing is drawn.
		let b = bar(10, "run");
		assert!(b.is_hidden());
		b.inc(3);
		assert_eq!(b.position(), 3);
		let mut line = tracing_subscriber::fmt::MakeWriter::make_writer(&Logs);
		line.write_all(b"one ").unwrap();
		line.write_all(b"event\n").unwrap();
		assert_eq!(line.0, b"one event\n");
	}
}
