//! Child processes for Rapport's tools (`cargo xtask demo`, `bench`) and end-to-end tests:
//! the edge in workerd, ChromeDriver. A [`Child`] is started in one of two ways:
//!
//! - [`Child::background`]: in its own process group, its output in a log file, and killed
//!   with its whole group (workerd, Chromium's helpers) when dropped, so a failing test or
//!   tool leaves nothing behind;
//! - [`Child::foreground`]: in the terminal's process group, its output on the terminal, so
//!   Ctrl-C reaches it as it reaches the tool (the demo).
//!
//! A background child is also watched: a small `sh` watchdog holds the read end of a pipe
//! whose write end only this process holds, and kills the child's group (and removes its
//! scratch folder) when the pipe closes. So a child outlives neither its `Child` nor this
//! process, however it ends, even one kept for a whole test binary in a `static`.
//!
//! [`Child::wait_for_http`] and [`Child::wait_for_port`] wait until it serves, and fail early,
//! with what it said, if it exits first.

use std::fs::File;
use std::io;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A free port on the loopback interface.
pub fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("the loopback interface has free ports")
}

/// A running child process.
#[derive(Debug)]
pub struct Child {
    child: std::process::Child,
    /// Where its output goes, for a background child.
    log: Option<PathBuf>,
    /// A background child's watchdog; its stdin is the pipe whose closing ends the child.
    watchdog: Option<std::process::Child>,
}

/// Waits for its stdin to close, then ends the process group `$1` and removes `$2`.
/// (`kill -SIG -PGID`, without `--`, which dash's `kill` does not take.)
const WATCHDOG: &str = "read _; kill -TERM -$1 2>/dev/null; sleep 2; \
                        kill -KILL -$1 2>/dev/null; [ -n \"$2\" ] && rm -rf -- \"$2\"; exit 0";

impl Child {
    /// Starts `command` in a process group of its own, with its output in `log`, watched so
    /// that it ends with this process. `scratch`, if given, is a folder the child works in,
    /// removed by the watchdog if this process ends without dropping the `Child`.
    pub fn background(
        command: &mut Command,
        log: PathBuf,
        scratch: Option<&std::path::Path>,
    ) -> io::Result<Child> {
        use std::os::unix::process::CommandExt as _;
        let out = File::create(&log)?;
        let err = out.try_clone()?;
        let child = command
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| describe(command, e))?;
        let scratch = scratch.map(|p| p.display().to_string()).unwrap_or_default();
        let watchdog = Command::new("sh")
            .args([
                "-c",
                WATCHDOG,
                "watchdog",
                &child.id().to_string(),
                &scratch,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own group, so a signal to this process's group leaves it to do its job.
            .process_group(0)
            .spawn()
            .map_err(|e| describe(&Command::new("sh"), e))?;
        Ok(Child {
            child,
            log: Some(log),
            watchdog: Some(watchdog),
        })
    }

    /// Starts `command` in the terminal's process group, its output on the terminal.
    pub fn foreground(command: &mut Command) -> io::Result<Child> {
        let child = command.spawn().map_err(|e| describe(command, e))?;
        Ok(Child {
            child,
            log: None,
            watchdog: None,
        })
    }

    /// The end of what a background child wrote, to say why it failed.
    pub fn log_tail(&self) -> String {
        let Some(log) = &self.log else {
            return String::new();
        };
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let start = text.len().saturating_sub(4_000);
        text[text.floor_char_boundary(start)..].to_owned()
    }

    /// Waits until a GET of `url` answers 2xx, and gives the body. Fails, saying why, when
    /// the child exits first or `limit` passes.
    pub fn wait_for_http(&mut self, url: &str, limit: Duration) -> Result<String, String> {
        self.wait_until(limit, &format!("answer on {url}"), || {
            let mut response = ureq::get(url).call().ok()?;
            Some(response.body_mut().read_to_string().unwrap_or_default())
        })
    }

    /// Waits until the child accepts connections on `port`.
    pub fn wait_for_port(&mut self, port: u16, limit: Duration) -> Result<(), String> {
        self.wait_until(limit, &format!("listen on port {port}"), || {
            TcpStream::connect(("127.0.0.1", port))
                .ok()
                // With nothing listening, Linux can still connect a socket to itself when the
                // port is in its ephemeral range, as `free_port`'s are (TCP's simultaneous
                // open): that is not the child listening.
                .filter(|stream| stream.local_addr().ok() != stream.peer_addr().ok())
                .map(|_| ())
        })
    }

    fn wait_until<T>(
        &mut self,
        limit: Duration,
        what: &str,
        mut ready: impl FnMut() -> Option<T>,
    ) -> Result<T, String> {
        let started = Instant::now();
        loop {
            if let Some(value) = ready() {
                return Ok(value);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "it exited ({status}) before it would {what}\n{}",
                    self.log_tail()
                ));
            }
            if started.elapsed() > limit {
                return Err(format!(
                    "it did not {what} within {}s\n{}",
                    limit.as_secs(),
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for the child to end by itself.
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        self.child.wait()
    }

    fn signal(&self, signal: &str) {
        let target = if self.log.is_some() {
            // The whole group: a background child's own children go too.
            format!("-{}", self.child.id())
        } else {
            self.child.id().to_string()
        };
        let _ = Command::new("kill").args([signal, "--", &target]).status();
    }
}

impl Child {
    /// Kills the child and its whole group at once (`SIGKILL`, no chance to clean up), as a
    /// crash or a lost machine would, and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        self.signal("-KILL");
        let _ = self.child.wait();
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        // The watchdog is not needed once this ends the child itself; it goes first, so it
        // never signals a group whose id has been reused.
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        self.signal("-TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Whatever is left (workerd, Chromium's helpers) goes too.
        self.signal("-KILL");
        let _ = self.child.wait();
    }
}

fn describe(command: &Command, err: io::Error) -> io::Error {
    io::Error::new(
        err.kind(),
        format!(
            "starting {}: {err}",
            command.get_program().to_string_lossy()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_background_child_that_exits_early_says_what_it_wrote() {
        let dir = std::env::temp_dir().join(format!("rapport-child-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut child = Child::background(
            Command::new("sh").args(["-c", "echo cannot bind; exit 3"]),
            dir.join("log"),
            None,
        )
        .unwrap();
        let err = child
            .wait_for_port(free_port(), Duration::from_secs(10))
            .unwrap_err();
        assert!(err.contains("exited"), "{err}");
        assert!(err.contains("cannot bind"), "{err}");
    }

    #[test]
    fn dropping_a_background_child_ends_its_group() {
        let dir = std::env::temp_dir().join(format!("rapport-group-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pid_file = dir.join("grandchild");
        let script = format!("sleep 60 & echo $! > {}; wait", pid_file.display());
        let child = Child::background(
            Command::new("sh").args(["-c", &script]),
            dir.join("log"),
            None,
        )
        .unwrap();
        // The shell creates the file before it writes the pid: wait for the whole line.
        let started = Instant::now();
        let written = || {
            std::fs::read_to_string(&pid_file)
                .ok()
                .filter(|text| text.ends_with('\n'))
        };
        while written().is_none() && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let grandchild = written()
            .expect("the shell wrote the grandchild's pid")
            .trim()
            .to_owned();
        assert!(grandchild.parse::<u32>().is_ok(), "{grandchild:?}");
        drop(child);
        // Gone, or a zombie waiting for whoever adopted it to reap it.
        let stat = std::fs::read_to_string(format!("/proc/{grandchild}/stat")).unwrap_or_default();
        let state = stat.rsplit(')').next().unwrap_or_default().trim_start();
        assert!(
            stat.is_empty() || state.starts_with('Z') || state.starts_with('X'),
            "the grandchild {grandchild} outlived its group: {stat}"
        );
    }

    #[test]
    fn a_child_whose_parent_forgets_it_ends_when_its_watchdog_hears_the_pipe_close() {
        let dir = std::env::temp_dir().join(format!("rapport-watch-{}", std::process::id()));
        let scratch = dir.join("scratch");
        std::fs::create_dir_all(&scratch).unwrap();
        let mut child = Child::background(
            Command::new("sleep").arg("60"),
            dir.join("log"),
            Some(&scratch),
        )
        .unwrap();
        let pid = child.child.id();
        // What the end of this process does: the pipe closes, and nothing else runs.
        drop(child.watchdog.as_mut().unwrap().stdin.take());
        let started = Instant::now();
        let ended = loop {
            if let Ok(Some(_)) = child.child.try_wait() {
                break true;
            }
            if started.elapsed() > Duration::from_secs(10) {
                break false;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(ended, "sleep {pid} outlived its watchdog");
        let started = Instant::now();
        while scratch.exists() && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(!scratch.exists(), "the watchdog removes the scratch folder");
    }
}
