//! Stopping a run gracefully: SIGINT, SIGTERM, SIGHUP and SIGUSR1 (Ctrl-C elsewhere) raise a
//! flag that meta-training checks after each outer step, so an interrupted, preempted or
//! timed-out job stops with a checkpoint.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Raised by the first stop signal.
pub static STOP: AtomicBool = AtomicBool::new(false);
/// Index in `STOP_SIGNALS` of the last stop signal received, plus one (0: none).
static RECEIVED: AtomicUsize = AtomicUsize::new(0);

/// The signals that stop a run after its current outer step, with their names.
#[cfg(unix)]
const STOP_SIGNALS: [(libc::c_int, &str); 4] = [
    (libc::SIGINT, "SIGINT"),
    (libc::SIGTERM, "SIGTERM"),
    (libc::SIGHUP, "SIGHUP"),
    (libc::SIGUSR1, "SIGUSR1"),
];
#[cfg(not(unix))]
const STOP_SIGNALS: [(i32, &str); 1] = [(0, "Ctrl-C")];

#[cfg(unix)]
extern "C" fn on_signal(signal: libc::c_int) {
    // Only atomic stores: async-signal-safe.
    if let Some(i) = STOP_SIGNALS.iter().position(|&(s, _)| s == signal) {
        RECEIVED.store(i + 1, Ordering::SeqCst);
    }
    STOP.store(true, Ordering::SeqCst);
}

/// Installs the handler of every stop signal.
#[cfg(unix)]
pub fn install() -> std::io::Result<()> {
    let handler: extern "C" fn(libc::c_int) = on_signal;
    for (signal, _) in STOP_SIGNALS {
        // SAFETY: a zeroed sigaction is valid; the handler only stores to atomics; SA_RESTART
        // lets interrupted system calls (file writes of other threads) continue.
        let installed = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handler as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut())
        };
        if installed != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Installs the Ctrl-C handler.
#[cfg(not(unix))]
pub fn install() -> std::io::Result<()> {
    ctrlc::set_handler(|| {
        RECEIVED.store(1, Ordering::SeqCst);
        STOP.store(true, Ordering::SeqCst);
    })
    .map_err(std::io::Error::other)
}

/// The name of the stop signal received, if any.
pub fn received() -> Option<&'static str> {
    let index = RECEIVED.load(Ordering::SeqCst).checked_sub(1)?;
    STOP_SIGNALS.get(index).map(|&(_, name)| name)
}
