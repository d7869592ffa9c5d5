//! A `nats-server -js` of one's own, on a free loopback port with a
//! temporary store directory: what the tests, the chaos test and
//! `intake bench --backend jetstream` run the JetStream store on. Killed
//! (SIGKILL) when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Why a local server did not start.
#[derive(Debug, thiserror::Error)]
pub enum LocalServerError {
    #[error("nats-server is not installed (`make deps` installs Debian's package)")]
    NotInstalled,
    #[error("nats-server: {0}")]
    Io(std::io::Error),
    #[error("nats-server did not listen on port {0} within 15 s")]
    NotListening(u16),
    #[error("nats-server exited at start ({0})")]
    Exited(std::process::ExitStatus),
}

impl From<std::io::Error> for LocalServerError {
    fn from(e: std::io::Error) -> LocalServerError {
        LocalServerError::Io(e)
    }
}

pub struct LocalServer {
    binary: PathBuf,
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl LocalServer {
    /// The `nats-server` binary on `PATH`, or in Debian's sbin.
    pub fn binary() -> Option<PathBuf> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
        // Debian puts it in sbin, which a user's PATH may lack.
        dirs.extend(["/usr/sbin", "/usr/local/sbin", "/usr/bin"].map(PathBuf::from));
        dirs.into_iter()
            .map(|d| d.join("nats-server"))
            .find(|p| p.is_file())
    }

    /// Starts one and waits until it listens.
    pub fn start() -> Result<LocalServer, LocalServerError> {
        let binary = LocalServer::binary().ok_or(LocalServerError::NotInstalled)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut server = LocalServer {
            binary,
            child: None,
            port,
            dir: tempfile::tempdir()?,
        };
        server.spawn()?;
        Ok(server)
    }

    fn spawn(&mut self) -> Result<(), LocalServerError> {
        let mut child = Command::new(&self.binary)
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(LocalServerError::NotListening(self.port));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Listening, and ours: one that lost the port to another exits.
        std::thread::sleep(Duration::from_millis(50));
        if let Some(status) = child.try_wait()? {
            return Err(LocalServerError::Exited(status));
        }
        self.child = Some(child);
        Ok(())
    }

    /// Where it keeps its streams' files.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// SIGKILL, as a crash would: no shutdown of its own.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and store directory.
    pub fn restart(&mut self) -> Result<(), LocalServerError> {
        self.kill9();
        self.spawn()
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.kill9();
    }
}
