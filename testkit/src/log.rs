//! The process's log, captured as `--log-format json` writes it, for tests that check
//! what is logged. The subscriber is the process-wide default, installed once: a test
//! file that uses it holds the tests that log, so nothing else writes into it.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;

/// What the subscriber wrote so far.
#[derive(Clone, Default)]
pub struct CapturedLog(Arc<Mutex<Vec<u8>>>);

impl Write for CapturedLog {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLog {
    /// Installs a JSON subscriber (one object per line, fields flattened, as
    /// `--log-format json` logs) as the process's default and captures its output.
    pub fn install() -> CapturedLog {
        let captured = CapturedLog::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("one log capture per test process");
        captured
    }

    /// Everything logged so far, as written.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The lines logged on `target`, parsed.
    pub fn lines_on(&self, target: &str) -> Vec<Value> {
        self.text()
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON log line"))
            .filter(|line: &Value| line["target"] == target)
            .collect()
    }
}
