//! A private redis-server for the tests, and waits that fail instead of
//! hanging.

// Shared by the integration tests and the unit tests of `src/near`, each
// of which uses part of it.
#![allow(dead_code)]

use std::{
    future::Future,
    io::{Read, Write},
    net::{Ipv4Addr, TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// How long any wait of a test may take before the test fails.
pub(crate) const PATIENCE: Duration = Duration::from_secs(10);

/// A redis-server on a free loopback port, killed by its pid when dropped.
pub(crate) struct Server {
    child: Child,
    port: u16,
    args: Vec<String>,
}

impl Server {
    /// Starts a server, or `None` (announced on stderr) when
    /// `redis-server` is not installed. With `STRCACHE_REQUIRE_REDIS=1`,
    /// a missing `redis-server` fails the test instead.
    pub(crate) fn start() -> Option<Server> {
        Server::start_with(&[])
    }

    /// As [`start`](Self::start), with extra configuration arguments.
    pub(crate) fn start_with(args: &[&str]) -> Option<Server> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            let required = std::env::var("STRCACHE_REQUIRE_REDIS").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "redis-server is not installed, and STRCACHE_REQUIRE_REDIS=1"
            );
            eprintln!("!!! SKIPPED: redis-server is not installed; install it (apt-get install redis-server) to run this test");
            return None;
        }
        // Another process may take the free port before the server binds
        // it: try a few.
        for _ in 0..5 {
            let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .and_then(|l| l.local_addr())
                .expect("no free loopback port")
                .port();
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            let child = spawn(port, &args);
            let mut server = Server { child, port, args };
            if server.wait_ready() {
                return Some(server);
            }
        }
        panic!("redis-server did not come up on any of 5 free ports");
    }

    /// Starts the server again on its port, empty (it saves nothing),
    /// after [`kill`](Self::kill).
    pub(crate) fn restart(&mut self) {
        self.kill();
        self.child = spawn(self.port, &self.args);
        assert!(
            self.wait_ready(),
            "redis-server did not restart on its port"
        );
    }

    /// Waits for the server to answer on its port; false if it exited,
    /// as it does when another test's server holds the port. That server
    /// may answer meanwhile, so the answer must name this one's pid.
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)) {
                if server_pid(stream, self.password()) == Some(self.child.id()) {
                    return true;
                }
            }
            if self
                .child
                .try_wait()
                .expect("redis-server status")
                .is_some()
            {
                return false;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server not ready after {PATIENCE:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The `--requirepass` argument the server was started with, if any.
    fn password(&self) -> Option<&str> {
        let at = self.args.iter().position(|a| a == "--requirepass")?;
        self.args.get(at + 1).map(String::as_str)
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A connection of another client, for writes and server commands.
    pub(crate) async fn admin(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .expect("admin connection")
    }

    /// Kills the server (SIGKILL, by pid) and reaps it.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The process id of the server at the other end of `stream`, from
/// `INFO server` (after `AUTH password`, if given); `None` if it does not
/// answer in time.
fn server_pid(mut stream: TcpStream, password: Option<&str>) -> Option<u32> {
    stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    if let Some(password) = password {
        stream
            .write_all(format!("AUTH {password}\r\n").as_bytes())
            .ok()?;
    }
    stream.write_all(b"INFO server\r\n").ok()?;
    let mut reply = Vec::new();
    let mut buf = [0; 4096];
    while reply.len() < 64 * 1024 {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&reply);
        if let Some(rest) = text.split("process_id:").nth(1) {
            if let Some((pid, _)) = rest.split_once("\r\n") {
                return pid.parse().ok();
            }
        }
    }
    None
}

/// Starts `redis-server` on `port`, with nothing saved to disk.
fn spawn(port: u16, args: &[String]) -> Child {
    Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server did not start")
}

/// The calls of `command` the server has run (`INFO commandstats`).
pub(crate) async fn calls(admin: &mut redis::aio::MultiplexedConnection, command: &str) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(admin)
        .await
        .unwrap();
    let prefix = format!("cmdstat_{command}:calls=");
    info.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0, |rest| rest.split(',').next().unwrap().parse().unwrap())
}

/// Polls `done` until it holds; fails the test after [`PATIENCE`].
pub(crate) async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "waited {PATIENCE:?} for {what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Awaits `f`; fails the test after [`PATIENCE`].
pub(crate) async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, f)
        .await
        .unwrap_or_else(|_| panic!("waited {PATIENCE:?} for {what}"))
}
