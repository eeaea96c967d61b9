//! The TCP connections libgit2 opens to git remotes, with `TCP_NODELAY`.
//!
//! libgit2 writes an HTTP request's headers and its body in separate small writes (each
//! its own TLS record over HTTPS) on a socket it opens without `TCP_NODELAY`. Nagle's
//! algorithm then holds the body until the server acknowledges the headers, and a
//! server delays that acknowledgement (40 ms on Linux), so every `POST` of a fetch or
//! push waited 40 ms for nothing (docs/performance.md, "Webhook to commit"). libgit2 has
//! no option for the socket, but it takes a replacement for its plain TCP stream
//! (`git_stream_register`, `GIT_STREAM_STANDARD`): HTTPS (libgit2's OpenSSL layer), SSH
//! (libssh2) and `git://` all open their connections through it. This is that
//! replacement: libgit2's own stream, connecting the same way (every resolved address
//! in turn, keep-alive probes, its connect and I/O timeouts), plus `TCP_NODELAY`.
//!
//! The bindings are written here because `libgit2-sys` has none for `sys/stream.h`.
//! They follow libgit2 1.9 (the version `libgit2-sys` 0.18 vendors and Cargo.lock
//! pins): the stream's layout must be libgit2's `git_socket_stream`, since its SSH
//! transport reads the socket from that struct directly (`ssh_libssh2.c`).

use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Once;
use std::time::Duration;

use libgit2_sys as raw;

const GIT_STREAM_VERSION: c_int = 1;
const GIT_STREAM_STANDARD: c_int = 1;

/// `git_stream` (`git2/sys/stream.h`).
#[repr(C)]
struct GitStream {
    version: c_int,
    /// The bit fields `encrypted : 1, proxy_support : 1`: both 0 for plain TCP.
    flags: c_uint,
    /// Milliseconds for each read and write; 0 blocks indefinitely.
    timeout: c_int,
    /// Milliseconds to connect; 0 leaves it to the system.
    connect_timeout: c_int,
    connect: unsafe extern "C" fn(*mut GitStream) -> c_int,
    certificate: Option<unsafe extern "C" fn(*mut *mut c_void, *mut GitStream) -> c_int>,
    set_proxy: Option<unsafe extern "C" fn(*mut GitStream, *const c_void) -> c_int>,
    read: unsafe extern "C" fn(*mut GitStream, *mut c_void, usize) -> isize,
    write: unsafe extern "C" fn(*mut GitStream, *const c_char, usize, c_int) -> isize,
    close: unsafe extern "C" fn(*mut GitStream) -> c_int,
    free: unsafe extern "C" fn(*mut GitStream),
}

/// `git_stream_registration` (`git2/sys/stream.h`).
#[repr(C)]
struct GitStreamRegistration {
    version: c_int,
    init: Option<unsafe extern "C" fn(*mut *mut GitStream, *const c_char, *const c_char) -> c_int>,
    wrap: Option<unsafe extern "C" fn(*mut *mut GitStream, *mut GitStream, *const c_char) -> c_int>,
}

extern "C" {
    fn git_stream_register(kind: c_int, registration: *mut GitStreamRegistration) -> c_int;
}

/// libgit2's `git_socket_stream` up to `s`, then this stream's own state. libgit2's SSH
/// transport takes the socket from `s`; libgit2 only ever frees it through `free`.
#[repr(C)]
struct SocketStream {
    parent: GitStream,
    host: *mut c_char,
    port: *mut c_char,
    /// The connected socket, -1 before `connect` and after `close` (`GIT_SOCKET`).
    s: RawFd,
    socket: Option<TcpStream>,
}

/// Makes libgit2 open its TCP connections through [`SocketStream`]. Idempotent; the
/// engine calls it before it first reaches a remote.
pub fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        raw::init();
        let mut registration = GitStreamRegistration {
            version: GIT_STREAM_VERSION,
            init: Some(stream_new),
            wrap: None,
        };
        // SAFETY: libgit2 is initialised and copies the registration.
        let rc = unsafe { git_stream_register(GIT_STREAM_STANDARD, &mut registration) };
        if rc < 0 {
            // libgit2's own stream stays in place: slower, not wrong.
            tracing::warn!(
                rc,
                "cannot register the git socket stream; git remotes keep Nagle's delay"
            );
        }
    });
}

unsafe extern "C" fn stream_new(
    out: *mut *mut GitStream,
    host: *const c_char,
    port: *const c_char,
) -> c_int {
    if out.is_null() || host.is_null() || port.is_null() {
        return fail(
            raw::GIT_ERROR_INVALID as c_int,
            "a git stream needs a host and a port",
        );
    }
    // SAFETY: libgit2 passes NUL-terminated strings, valid for this call.
    let (host, port) = unsafe {
        (
            CStr::from_ptr(host).to_owned(),
            CStr::from_ptr(port).to_owned(),
        )
    };
    // libgit2's own stream takes its timeouts from these options too (0: none).
    // SAFETY: reads process-wide options, which nothing sets while remotes are used.
    let (timeout, connect_timeout) = unsafe {
        (
            git2::opts::get_server_timeout_in_milliseconds().unwrap_or(0),
            git2::opts::get_server_connect_timeout_in_milliseconds().unwrap_or(0),
        )
    };
    let stream = Box::new(SocketStream {
        parent: GitStream {
            version: GIT_STREAM_VERSION,
            flags: 0,
            timeout,
            connect_timeout,
            connect: stream_connect,
            certificate: None,
            set_proxy: None,
            read: stream_read,
            write: stream_write,
            close: stream_close,
            free: stream_free,
        },
        host: host.into_raw(),
        port: port.into_raw(),
        s: -1,
        socket: None,
    });
    // SAFETY: `out` is non-null; `parent` is the first field of a `repr(C)` struct, so
    // the pointer is both a `GitStream` and the `SocketStream` the callbacks expect.
    unsafe { *out = Box::into_raw(stream).cast::<GitStream>() };
    0
}

/// The stream behind the pointer libgit2 passes back to the callbacks.
///
/// SAFETY: `stream` came from [`stream_new`] and has not been freed; libgit2 does not
/// call a stream's callbacks concurrently.
unsafe fn this<'a>(stream: *mut GitStream) -> &'a mut SocketStream {
    unsafe { &mut *stream.cast::<SocketStream>() }
}

unsafe extern "C" fn stream_connect(stream: *mut GitStream) -> c_int {
    // SAFETY: see `this`.
    let st = unsafe { this(stream) };
    // SAFETY: set from `CString`s in `stream_new`, freed only in `stream_free`.
    let (host, port) = unsafe { (CStr::from_ptr(st.host), CStr::from_ptr(st.port)) };
    let host = host.to_string_lossy();
    let Ok(port) = port.to_string_lossy().parse::<u16>() else {
        return fail(
            raw::GIT_ERROR_NET as c_int,
            &format!("invalid port for {host}"),
        );
    };
    let addresses = match (host.as_ref(), port).to_socket_addrs() {
        Ok(addresses) => addresses,
        Err(e) => {
            return fail(
                raw::GIT_ERROR_NET as c_int,
                &format!("failed to resolve address for {host}: {e}"),
            )
        }
    };
    let connect_timeout = millis(st.parent.connect_timeout);
    let mut last = None;
    for address in addresses {
        let connected = match connect_timeout {
            Some(limit) => TcpStream::connect_timeout(&address, limit),
            None => TcpStream::connect(address),
        };
        match connected {
            Ok(socket) => {
                let io_timeout = millis(st.parent.timeout);
                let prepared = socket
                    .set_nodelay(true)
                    .and_then(|()| keep_alive(&socket))
                    .and_then(|()| socket.set_read_timeout(io_timeout))
                    .and_then(|()| socket.set_write_timeout(io_timeout));
                if let Err(e) = prepared {
                    return fail(
                        raw::GIT_ERROR_OS as c_int,
                        &format!("failed to set up the connection to {host}: {e}"),
                    );
                }
                st.s = socket.as_raw_fd();
                st.socket = Some(socket);
                #[cfg(test)]
                tests::CONNECTED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                return 0;
            }
            // As libgit2 does: a timeout ends the attempt, other errors try the next
            // address.
            Err(e) if e.kind() == ErrorKind::TimedOut => {
                fail(
                    raw::GIT_ERROR_NET as c_int,
                    &format!("failed to connect to {host}: Operation timed out"),
                );
                return raw::GIT_TIMEOUT as c_int;
            }
            Err(e) => last = Some(e),
        }
    }
    let reason = last.map_or_else(|| "no address".to_owned(), |e| e.to_string());
    fail(
        raw::GIT_ERROR_OS as c_int,
        &format!("failed to connect to {host}: {reason}"),
    )
}

/// libgit2's keep-alive probes: after 60 s idle, every 10 s, 3 of them.
fn keep_alive(socket: &TcpStream) -> std::io::Result<()> {
    let probes = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(60))
        .with_interval(Duration::from_secs(10))
        .with_retries(3);
    socket2::SockRef::from(socket).set_tcp_keepalive(&probes)
}

fn millis(value: c_int) -> Option<Duration> {
    u64::try_from(value)
        .ok()
        .filter(|&ms| ms > 0)
        .map(Duration::from_millis)
}

unsafe extern "C" fn stream_read(stream: *mut GitStream, data: *mut c_void, len: usize) -> isize {
    // SAFETY: see `this`; libgit2 passes a buffer of `len` writable bytes.
    let (st, buffer) = unsafe {
        (
            this(stream),
            std::slice::from_raw_parts_mut(data.cast::<u8>(), len),
        )
    };
    let Some(socket) = st.socket.as_mut() else {
        return fail(raw::GIT_ERROR_NET as c_int, "read from a closed connection") as isize;
    };
    io_result(socket.read(buffer), "could not read from socket")
}

unsafe extern "C" fn stream_write(
    stream: *mut GitStream,
    data: *const c_char,
    len: usize,
    _flags: c_int,
) -> isize {
    // SAFETY: see `this`; libgit2 passes `len` readable bytes.
    let (st, buffer) = unsafe {
        (
            this(stream),
            std::slice::from_raw_parts(data.cast::<u8>(), len),
        )
    };
    let Some(socket) = st.socket.as_mut() else {
        return fail(raw::GIT_ERROR_NET as c_int, "write to a closed connection") as isize;
    };
    io_result(socket.write(buffer), "could not write to socket")
}

fn io_result(result: std::io::Result<usize>, what: &str) -> isize {
    match result {
        // A slice's length always fits.
        Ok(n) => isize::try_from(n).unwrap_or(isize::MAX),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            fail(raw::GIT_ERROR_NET as c_int, &format!("{what}: timed out"));
            raw::GIT_TIMEOUT as isize
        }
        Err(e) => fail(raw::GIT_ERROR_NET as c_int, &format!("{what}: {e}")) as isize,
    }
}

unsafe extern "C" fn stream_close(stream: *mut GitStream) -> c_int {
    // SAFETY: see `this`.
    let st = unsafe { this(stream) };
    st.s = -1;
    // Dropping the socket closes it.
    st.socket = None;
    0
}

unsafe extern "C" fn stream_free(stream: *mut GitStream) {
    if stream.is_null() {
        return;
    }
    // SAFETY: made by `Box::into_raw` in `stream_new`; libgit2 frees a stream once.
    let st = unsafe { Box::from_raw(stream.cast::<SocketStream>()) };
    // SAFETY: both came from `CString::into_raw`.
    unsafe {
        drop(CString::from_raw(st.host));
        drop(CString::from_raw(st.port));
    }
}

/// Sets libgit2's last error, as its own stream does, and returns -1.
fn fail(class: c_int, message: &str) -> c_int {
    let text = CString::new(message.replace('\0', " ")).unwrap_or_default();
    // SAFETY: libgit2 copies the message.
    unsafe { raw::git_error_set_str(class, text.as_ptr()) };
    -1
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Connections [`stream_connect`] made.
    pub(super) static CONNECTED: AtomicUsize = AtomicUsize::new(0);

    #[test]
    fn libgit2_connects_through_this_stream() {
        install();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("git://{}/repository", listener.local_addr().unwrap());
        // A server that hangs up at once: the fetch fails, after connecting.
        let server = std::thread::spawn(move || drop(listener.accept().unwrap()));
        let before = CONNECTED.load(Ordering::SeqCst);
        let folder = std::env::temp_dir().join(format!("promenade-socket-{}", std::process::id()));
        let repo = git2::Repository::init_bare(&folder).unwrap();
        let fetched = repo
            .remote_anonymous(&url)
            .unwrap()
            .fetch(&["main"], None, None);
        server.join().unwrap();
        std::fs::remove_dir_all(&folder).unwrap();
        assert!(fetched.is_err());
        assert!(
            CONNECTED.load(Ordering::SeqCst) > before,
            "libgit2 used libgit2's own stream"
        );
    }

    #[test]
    fn connections_libgit2_opens_have_no_nagle_delay() {
        install();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = CString::new(listener.local_addr().unwrap().port().to_string()).unwrap();
        let host = CString::new("localhost").unwrap();
        let server = std::thread::spawn(move || {
            let (socket, _) = listener.accept().unwrap();
            let mut line = String::new();
            std::io::BufReader::new(&socket)
                .read_line(&mut line)
                .unwrap();
            (&socket).write_all(b"pong\n").unwrap();
            line
        });
        let mut stream = std::ptr::null_mut();
        // SAFETY: the calls libgit2 makes, in its order, on a stream made for them.
        unsafe {
            assert_eq!(stream_new(&mut stream, host.as_ptr(), port.as_ptr()), 0);
            assert_eq!(((*stream).connect)(stream), 0);
            let socket = this(stream).socket.as_ref().unwrap();
            assert!(socket.nodelay().unwrap(), "TCP_NODELAY is set");
            assert!(socket2::SockRef::from(socket).keepalive().unwrap());
            assert_eq!(this(stream).s, socket.as_raw_fd());
            let ping = b"ping\n";
            assert_eq!(
                ((*stream).write)(stream, ping.as_ptr().cast(), ping.len(), 0),
                5
            );
            let mut answer = [0u8; 16];
            let read = ((*stream).read)(stream, answer.as_mut_ptr().cast(), answer.len());
            assert_eq!(&answer[..usize::try_from(read).unwrap()], b"pong\n");
            assert_eq!(((*stream).close)(stream), 0);
            assert_eq!(this(stream).s, -1);
            assert_eq!(
                ((*stream).read)(stream, answer.as_mut_ptr().cast(), answer.len()),
                -1
            );
            ((*stream).free)(stream);
        }
        assert_eq!(server.join().unwrap(), "ping\n");
    }

    #[test]
    fn a_refused_connection_says_where_to() {
        install();
        // A port nothing listens on: bound, then closed.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let port = CString::new(port.to_string()).unwrap();
        let host = CString::new("127.0.0.1").unwrap();
        let mut stream = std::ptr::null_mut();
        // SAFETY: as above.
        unsafe {
            assert_eq!(stream_new(&mut stream, host.as_ptr(), port.as_ptr()), 0);
            assert_eq!(((*stream).connect)(stream), -1);
            ((*stream).free)(stream);
        }
        let error = git2::Error::last_error(-1);
        assert!(
            error
                .message()
                .starts_with("failed to connect to 127.0.0.1"),
            "{error}"
        );
    }
}
