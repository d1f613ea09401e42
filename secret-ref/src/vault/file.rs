//! Reading the files a vault depends on, safely and within a size limit: an `fs` secret, a
//! `ca_cert`, a Kubernetes or AppRole token file.
//!
//! A path in settings or under a secrets directory may name something that is not a secret
//! file: a FIFO (an open would wait for a writer forever), a device (`/dev/zero` never ends),
//! a directory, or a symbolic link planted to lead elsewhere (`secret -> /etc/shadow`). Every
//! file is therefore
//!
//! - opened *beneath its directory*: links are followed only while they stay inside it, so a
//!   Kubernetes secret volume (`token -> ..data/token`, `..data -> ..2024_01_01_xx`) works,
//!   while a link that leads out of the directory, an absolute path or a `..` escape is
//!   refused ([`ErrorKind::PermissionDenied`]). On Linux the kernel does it (`openat2` with
//!   `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`); an absolute link that points back inside
//!   (`ln -s "$PWD/a" b`), which the kernel refuses as such, is resolved and its target
//!   opened beneath the directory with no link allowed. Where `openat2` is missing (an old
//!   kernel, a seccomp filter, another Unix) the path is resolved first and the file opened
//!   without following a final link, which is best effort against a concurrent rename;
//! - opened non-blocking and checked on the opened handle, so nothing can change between the
//!   check and the read: anything but a regular file is refused before a byte is read;
//! - read up to a limit ([`Request::max_file_size`], set with
//!   [`ResolverBuilder::max_file_size`]): a larger file is an error, never truncated;
//! - read into one buffer that is wiped when dropped, and never reallocated implicitly (a
//!   reallocation would free the old copy unwiped).
//!
//! Errors name the path, never the contents.
//!
//! | Failure | Kind |
//! |---|---|
//! | no such file, a directory | [`ErrorKind::NotFound`] |
//! | no permission; a path or link that leads outside the directory; a `/proc` magic link or a link loop | [`ErrorKind::PermissionDenied`] |
//! | a FIFO, socket or device; larger than the limit; `read_beneath`'s directory unusable | [`ErrorKind::InvalidConfig`] |
//! | an I/O error while reading | [`ErrorKind::BadResponse`] |
//!
//! A file that is not a regular file or is too large is a configuration error: settings (or
//! the secrets directory they name) point at something that cannot be a secret, and the
//! remedy is there (another path, or a larger [`ResolverBuilder::max_file_size`]). Callers
//! reading a file named by a setting may report every failure as
//! [`ErrorKind::InvalidConfig`], as the `hcv` and `aws` backends do for `ca_cert` and token
//! files.
//!
//! [`ErrorKind::NotFound`]: crate::ErrorKind::NotFound
//! [`ErrorKind::PermissionDenied`]: crate::ErrorKind::PermissionDenied
//! [`ErrorKind::InvalidConfig`]: crate::ErrorKind::InvalidConfig
//! [`ErrorKind::BadResponse`]: crate::ErrorKind::BadResponse
//! [`Request::max_file_size`]: super::Request::max_file_size
//! [`ResolverBuilder::max_file_size`]: crate::ResolverBuilder::max_file_size

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use zeroize::Zeroizing;

use crate::error::VaultError;

/// Reads the file at `path` (a setting such as `ca_cert`), refusing anything but a regular
/// file of at most `max_size` bytes.
///
/// The file is opened beneath its parent directory: a link in that directory may lead to
/// another place inside it (as in Kubernetes secret volumes), but not outside it. The parent
/// directory itself is reached as the path says.
///
/// ```
/// use secret_ref::ErrorKind;
/// use secret_ref::vault::file;
///
/// let path = std::env::temp_dir().join(format!("secret-ref-doc-file-{}", std::process::id()));
/// std::fs::write(&path, "-----BEGIN CERTIFICATE-----\n")?;
/// assert_eq!(&file::read(&path, 1024)?[..11], b"-----BEGIN ");
///
/// // Larger than the limit: refused, not truncated.
/// assert_eq!(file::read(&path, 10).unwrap_err().kind(), ErrorKind::InvalidConfig);
/// // A device is not a file, however little of it would be read.
/// if cfg!(unix) {
///     let err = file::read("/dev/zero".as_ref(), 1024).unwrap_err();
///     assert_eq!(err.kind(), ErrorKind::InvalidConfig);
///     assert_eq!(err.to_string(), "/dev/zero is a character device, not a regular file");
/// }
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read(path: &Path, max_size: u64) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    read_with(path, max_size, Resolve::Kernel)
}

/// Reads the file `relative` beneath the directory `dir` (the `fs` vault's prefix), refusing
/// anything but a regular file of at most `max_size` bytes.
///
/// `relative` must stay inside `dir`: an absolute path, a `..` component and a symbolic link
/// that leads outside are refused ([`ErrorKind::PermissionDenied`]); links that stay inside
/// are followed. A `dir` that cannot be opened is [`ErrorKind::InvalidConfig`], since it
/// comes from settings.
///
/// ```
/// use secret_ref::ErrorKind;
/// use secret_ref::vault::file;
///
/// let dir = std::env::temp_dir().join(format!("secret-ref-doc-beneath-{}", std::process::id()));
/// std::fs::create_dir_all(dir.join("db"))?;
/// std::fs::write(dir.join("db/password"), "opensesame\n")?;
///
/// assert_eq!(&*file::read_beneath(&dir, "db/password", 1024)?, b"opensesame\n");
/// for escape in ["../etc/passwd", "/etc/passwd", "db/../../etc/passwd"] {
///     let err = file::read_beneath(&dir, escape, 1024).unwrap_err();
///     assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{escape}");
/// }
/// #[cfg(unix)]
/// {
///     std::os::unix::fs::symlink("/etc/passwd", dir.join("passwd"))?;
///     let err = file::read_beneath(&dir, "passwd", 1024).unwrap_err();
///     assert_eq!(err.kind(), ErrorKind::PermissionDenied);
/// }
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`ErrorKind::PermissionDenied`]: crate::ErrorKind::PermissionDenied
/// [`ErrorKind::InvalidConfig`]: crate::ErrorKind::InvalidConfig
pub fn read_beneath(
    dir: &Path,
    relative: &str,
    max_size: u64,
) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    read_beneath_with(dir, relative, max_size, Resolve::Kernel)
}

/// How links are kept inside the directory; [`Resolve::Userspace`] is the fallback, callable
/// on its own so that tests reach it on kernels that have `openat2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resolve {
    /// `openat2(RESOLVE_BENEATH)` where the platform has it, else [`Resolve::Userspace`].
    Kernel,
    /// Canonicalize, check the result is inside, open it without following a final link.
    #[cfg_attr(not(test), allow(dead_code))]
    Userspace,
}

/// Which directory a file is opened beneath: it decides how failing to open it is reported.
#[derive(Clone, Copy)]
enum Dir {
    /// The directory `read_beneath` was given: configuration, so an error there is
    /// [`crate::ErrorKind::InvalidConfig`].
    Base,
    /// The parent of the path given to `read`: part of that path, reported as the file.
    Parent,
}

/// The file, as messages name it.
#[derive(Clone, Copy)]
enum Shown<'a> {
    Path(&'a Path),
    Beneath { dir: &'a Path, relative: &'a str },
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shown::Path(path) => write!(f, "{}", path.display()),
            Shown::Beneath { dir, relative } => write!(f, "`{relative}` in {}", dir.display()),
        }
    }
}

fn read_with(path: &Path, max_size: u64, how: Resolve) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let shown = Shown::Path(path);
    let Some(name) = path.file_name() else {
        return Err(VaultError::invalid_config(format!(
            "{shown} does not name a file"
        )));
    };
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file = open_beneath(parent, Path::new(name), Dir::Parent, shown, how)?;
    read_opened(file, max_size, shown)
}

fn read_beneath_with(
    dir: &Path,
    relative: &str,
    max_size: u64,
    how: Resolve,
) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let shown = Shown::Beneath { dir, relative };
    // `openat2` refuses these too; checked first for a clearer message, and for platforms
    // without it.
    let rel = Path::new(relative);
    if rel
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(VaultError::permission_denied(format!(
            "{shown} leaves the directory (absolute paths and `..` are refused)"
        )));
    }
    let file = open_beneath(dir, rel, Dir::Base, shown, how)?;
    read_opened(file, max_size, shown)
}

#[cfg(unix)]
mod sys {
    use std::fs::File;
    use std::io;
    use std::path::Path;

    use rustix::fs::{Mode, OFlags};
    pub(super) use rustix::io::Errno;

    /// For the file itself: never wait (a FIFO without a writer, a device), never leak the
    /// descriptor into a child, never acquire a controlling terminal.
    pub(super) const FILE: OFlags = OFlags::RDONLY
        .union(OFlags::NONBLOCK)
        .union(OFlags::CLOEXEC)
        .union(OFlags::NOCTTY);

    /// Opens the directory files are opened beneath, only as a place to start from.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(super) fn open_dir(dir: &Path) -> io::Result<rustix::fd::OwnedFd> {
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        Ok(rustix::fs::open(dir, flags, Mode::empty())?)
    }

    /// `relative` beneath `dir`, by the kernel: EXDEV if the path or a link on it leads
    /// outside, or is absolute; with `no_links`, ELOOP if any component is a link.
    ///
    /// `Ok(None)` when `openat2` is not available (before Linux 5.6, or refused by a seccomp
    /// filter, which answers ENOSYS or EPERM), so the caller falls back. A genuine EPERM is
    /// reported again by the fallback's own open.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(super) fn openat2_beneath(
        dir: &rustix::fd::OwnedFd,
        relative: &Path,
        no_links: bool,
    ) -> io::Result<Option<File>> {
        use rustix::fs::ResolveFlags;
        let mut resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
        if no_links {
            resolve |= ResolveFlags::NO_SYMLINKS;
        }
        match rustix::fs::openat2(dir, relative, FILE, Mode::empty(), resolve) {
            Ok(fd) => Ok(Some(File::from(fd))),
            // EINVAL and E2BIG: a kernel that does not know these flags or this `open_how`.
            Err(Errno::NOSYS | Errno::PERM | Errno::INVAL | Errno::TOOBIG) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Opens a canonical path without following a final link: the fallback's open.
    pub(super) fn open_nofollow(path: &Path) -> io::Result<File> {
        Ok(File::from(rustix::fs::open(
            path,
            FILE | OFlags::NOFOLLOW,
            Mode::empty(),
        )?))
    }

    /// Whether an error is this errno.
    pub(super) fn is(e: &io::Error, errno: Errno) -> bool {
        e.raw_os_error() == Some(errno.raw_os_error())
    }
}

/// Opens `relative` beneath `dir` and checks, on the handle, that it is a regular file.
fn open_beneath(
    dir: &Path,
    relative: &Path,
    role: Dir,
    shown: Shown<'_>,
    how: Resolve,
) -> Result<(File, u64), VaultError> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if how == Resolve::Kernel {
        let dir_fd = sys::open_dir(dir).map_err(|e| dir_error(e, dir, role, shown))?;
        match sys::openat2_beneath(&dir_fd, relative, false) {
            Ok(Some(file)) => return regular(file, shown),
            // No openat2 here: the fallback below.
            Ok(None) => {}
            // RESOLVE_BENEATH also refuses every absolute link, even one that points back
            // inside (`alias -> /run/secrets/pg-password`, as `ln -s "$PWD/..."` makes).
            // Resolving tells the two apart; the file is then opened by its resolved path,
            // beneath the same directory handle and with no link allowed on the way, so a
            // link swapped in meanwhile fails (ELOOP) instead of being followed.
            Err(e) if sys::is(&e, sys::Errno::XDEV) => {
                let (_, inside) = resolve_inside(dir, relative, role, shown)?;
                let inside = if inside.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    &inside
                };
                match sys::openat2_beneath(&dir_fd, inside, true) {
                    Ok(Some(file)) => return regular(file, shown),
                    Ok(None) => {}
                    Err(e) => return Err(open_error(e, shown)),
                }
            }
            Err(e) => return Err(open_error(e, shown)),
        }
    }
    let _ = how;
    let file = open_canonical(dir, relative, role, shown)?;
    regular(file, shown)
}

/// Resolves every link of `relative` beneath `dir` (`canonicalize` reads links, it never
/// opens the file, so a FIFO cannot block it) and checks the result is still inside the
/// canonical directory. Returns that directory and the resolved path relative to it.
fn resolve_inside(
    dir: &Path,
    relative: &Path,
    role: Dir,
    shown: Shown<'_>,
) -> Result<(PathBuf, PathBuf), VaultError> {
    let base = std::fs::canonicalize(dir).map_err(|e| dir_error(e, dir, role, shown))?;
    let real = std::fs::canonicalize(base.join(relative)).map_err(|e| open_error(e, shown))?;
    let inside = real
        .strip_prefix(&base)
        .map_err(|_| outside(shown))?
        .to_owned();
    Ok((base, inside))
}

/// The fallback where `openat2` is missing: resolve every link first, check the result is
/// still inside the directory, then open exactly that path without following a final link
/// and check it is the file that was resolved. A rename between the steps can still move a
/// directory above the file; only `openat2` closes that window.
fn open_canonical(
    dir: &Path,
    relative: &Path,
    role: Dir,
    shown: Shown<'_>,
) -> Result<File, VaultError> {
    let (base, inside) = resolve_inside(dir, relative, role, shown)?;
    let real = base.join(inside);
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let expected = std::fs::symlink_metadata(&real).map_err(|e| open_error(e, shown))?;
        let file = sys::open_nofollow(&real).map_err(|e| open_error(e, shown))?;
        let opened = file.metadata().map_err(|e| open_error(e, shown))?;
        if (opened.dev(), opened.ino()) != (expected.dev(), expected.ino()) {
            return Err(VaultError::permission_denied(format!(
                "{shown} changed while it was being opened"
            )));
        }
        Ok(file)
    }
    #[cfg(not(unix))]
    {
        File::open(&real).map_err(|e| open_error(e, shown))
    }
}

/// The file and its size if it is a regular file; anything else is refused by what it is.
fn regular(file: File, shown: Shown<'_>) -> Result<(File, u64), VaultError> {
    let metadata = file.metadata().map_err(|e| open_error(e, shown))?;
    let kind = metadata.file_type();
    if kind.is_file() {
        return Ok((file, metadata.len()));
    }
    if kind.is_dir() {
        // As for a missing file: there is no secret by that name, only a directory.
        return Err(VaultError::not_found(format!(
            "{shown} is a directory, not a file"
        )));
    }
    #[cfg(unix)]
    let what = {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_socket() {
            "a socket"
        } else if kind.is_char_device() {
            "a character device"
        } else if kind.is_block_device() {
            "a block device"
        } else {
            "something"
        }
    };
    #[cfg(not(unix))]
    let what = "something";
    Err(VaultError::invalid_config(format!(
        "{shown} is {what}, not a regular file"
    )))
}

/// Reads an opened regular file of `size` bytes (as its handle said) up to `max_size` bytes.
fn read_opened(
    (mut file, size): (File, u64),
    max_size: u64,
    shown: Shown<'_>,
) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let too_large = || {
        VaultError::invalid_config(format!(
            "{shown} is larger than the {max_size}-byte limit (ResolverBuilder::max_file_size)"
        ))
    };
    if size > max_size {
        return Err(too_large());
    }
    // One byte more than the limit is read at most, to tell "exactly the limit" from "more".
    let limit = usize::try_from(max_size.saturating_add(1)).unwrap_or(usize::MAX);
    // The size the handle reported, plus one byte so that the read which finds the end needs
    // no growth. Files in /proc and /sys report 0 or 4096 whatever they hold, so the buffer
    // may still have to grow, up to the limit.
    let first = usize::try_from(size.saturating_add(1))
        .unwrap_or(usize::MAX)
        .min(limit);
    let mut buf = buffer(first, shown)?;
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            if buf.len() >= limit {
                return Err(too_large());
            }
            // Grown by hand into a new wiped-on-drop buffer: `Vec` growth would free the old
            // allocation without wiping it.
            let mut bigger = buffer(buf.len().saturating_mul(2).max(4096).min(limit), shown)?;
            bigger[..filled].copy_from_slice(&buf[..filled]);
            buf = bigger;
        }
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // A regular file never says "try again"; retrying could spin for ever.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(VaultError::bad_response(format!(
                    "{shown} cannot be read without waiting"
                )));
            }
            Err(e) => {
                return Err(
                    VaultError::bad_response(format!("{shown} cannot be read: {e}")).with_source(e),
                );
            }
        }
    }
    if filled as u64 > max_size {
        return Err(too_large());
    }
    // Shrinking the length keeps the allocation, which is wiped whole when dropped.
    buf.truncate(filled);
    Ok(buf)
}

/// A zero-filled buffer of `len` bytes, wiped when dropped; an allocation failure (a huge
/// limit and a huge file) is an error, not an abort.
fn buffer(len: usize, shown: Shown<'_>) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let mut buf = Zeroizing::new(Vec::new());
    buf.try_reserve_exact(len).map_err(|_| {
        VaultError::invalid_config(format!(
            "{shown} is too large to read into memory ({len} bytes)"
        ))
    })?;
    // Within the reserved capacity: no reallocation.
    buf.resize(len, 0);
    Ok(buf)
}

fn outside(shown: Shown<'_>) -> VaultError {
    VaultError::permission_denied(format!(
        "{shown} is a link that leads outside its directory"
    ))
}

/// An error opening the file (or a directory on its way).
fn open_error(e: io::Error, shown: Shown<'_>) -> VaultError {
    #[cfg(unix)]
    {
        // openat2's answer to a path or link leading outside the directory.
        if sys::is(&e, sys::Errno::XDEV) {
            return outside(shown);
        }
        // RESOLVE_NO_MAGICLINKS (/proc/self/fd/N), too many links, or a final link that the
        // fallback's O_NOFOLLOW met where resolution found none.
        if sys::is(&e, sys::Errno::LOOP) {
            return VaultError::permission_denied(format!(
                "{shown} cannot be opened: a link loop, a /proc magic link, or a link that \
                 appeared while it was being opened"
            ));
        }
        // What opening a socket, or a device with no driver behind it, answers.
        if sys::is(&e, sys::Errno::NXIO) || sys::is(&e, sys::Errno::NODEV) {
            return VaultError::invalid_config(format!(
                "{shown} is a socket or a device, not a regular file"
            ));
        }
    }
    match e.kind() {
        io::ErrorKind::NotFound => VaultError::not_found(format!("no file {shown}")),
        io::ErrorKind::NotADirectory => VaultError::not_found(format!(
            "no file {shown} (a component of the path is not a directory)"
        )),
        io::ErrorKind::PermissionDenied => {
            VaultError::permission_denied(format!("{shown} cannot be read: permission denied"))
        }
        _ => VaultError::bad_response(format!("{shown} cannot be opened: {e}")).with_source(e),
    }
}

/// An error opening the directory a file is opened beneath.
fn dir_error(e: io::Error, dir: &Path, role: Dir, shown: Shown<'_>) -> VaultError {
    match role {
        Dir::Base => {
            VaultError::invalid_config(format!("directory {} cannot be used: {e}", dir.display()))
                .with_source(e)
        }
        Dir::Parent => open_error(e, shown),
    }
}

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
mod tests {
    use std::os::unix::fs::symlink;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::ErrorKind;

    const CANARY: &str = "c4n4ry-f1le";

    struct Tree(PathBuf);

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// `root/dir` holds the files, `root/outside` is a file outside it.
    fn tree(name: &str) -> Tree {
        let root =
            std::env::temp_dir().join(format!("secret-ref-file-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let dir = root.join("dir");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("plain"), "plain\n").unwrap();
        std::fs::write(dir.join("sub/nested"), "nested").unwrap();
        std::fs::write(root.join("outside"), CANARY).unwrap();
        std::fs::create_dir(root.join("elsewhere")).unwrap();
        std::fs::write(root.join("elsewhere/file"), CANARY).unwrap();
        // Inside links: relative, absolute, and through a relative directory link.
        symlink("plain", dir.join("alias")).unwrap();
        symlink(dir.join("sub/nested"), dir.join("abs-alias")).unwrap();
        symlink(dir.join("sub"), dir.join("abs-subdir")).unwrap();
        symlink("sub", dir.join("subdir")).unwrap();
        // Kubernetes' secret volume layout.
        std::fs::create_dir(dir.join("..2024_01_01_00")).unwrap();
        std::fs::write(dir.join("..2024_01_01_00/token"), "jwt").unwrap();
        symlink("..2024_01_01_00", dir.join("..data")).unwrap();
        symlink("..data/token", dir.join("token")).unwrap();
        // Outside links: absolute, relative, a directory, a device.
        symlink(root.join("outside"), dir.join("abs-out")).unwrap();
        symlink("../outside", dir.join("rel-out")).unwrap();
        symlink("../elsewhere", dir.join("dir-out")).unwrap();
        symlink("/dev/zero", dir.join("zero")).unwrap();
        symlink("missing", dir.join("dangling")).unwrap();
        mkfifo(&dir.join("fifo"));
        Tree(root)
    }

    fn mkfifo(path: &Path) {
        rustix::fs::mknodat(
            rustix::fs::CWD,
            path,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
    }

    const BOTH: [Resolve; 2] = [Resolve::Kernel, Resolve::Userspace];

    fn beneath(t: &Tree, relative: &str, how: Resolve) -> Result<Vec<u8>, VaultError> {
        read_beneath_with(&t.0.join("dir"), relative, 1024, how).map(|b| b.to_vec())
    }

    fn kind(result: Result<Vec<u8>, VaultError>) -> ErrorKind {
        let err = result.unwrap_err();
        assert!(!err.to_string().contains(CANARY), "{err}");
        assert!(!format!("{err:?}").contains(CANARY), "{err:?}");
        err.kind()
    }

    /// Whether this kernel lets us use `openat2` (else `Resolve::Kernel` falls back too).
    fn has_openat2() -> bool {
        let fd = sys::open_dir(&std::env::temp_dir()).unwrap();
        sys::openat2_beneath(&fd, Path::new("."), false).is_ok_and(|f| f.is_some())
    }

    /// The kernel's part, on its own: where `openat2` exists, it follows links inside and
    /// answers EXDEV for one leading out (or absolute), and ELOOP for any link when told.
    #[test]
    fn openat2_is_used_where_available() {
        let available = has_openat2();
        // Shown with --nocapture; Linux 5.6 and later have it unless a seccomp filter hides it.
        eprintln!("openat2 available: {available}");
        if !available {
            return;
        }
        let t = tree("openat2");
        let dir = sys::open_dir(&t.0.join("dir")).unwrap();
        let open = |relative: &str, no_links| {
            sys::openat2_beneath(&dir, Path::new(relative), no_links).map(|f| f.is_some())
        };
        assert!(open("token", false).unwrap());
        assert!(open("..2024_01_01_00/token", true).unwrap());
        for relative in ["rel-out", "abs-out", "abs-alias", "zero", "dir-out/file"] {
            let err = open(relative, false).unwrap_err();
            assert!(sys::is(&err, sys::Errno::XDEV), "{relative}: {err}");
        }
        for relative in ["token", "alias", "subdir/nested"] {
            let err = open(relative, true).unwrap_err();
            assert!(sys::is(&err, sys::Errno::LOOP), "{relative}: {err}");
        }
    }

    #[test]
    fn inside_links_are_followed() {
        let t = tree("inside");
        for how in BOTH {
            assert_eq!(beneath(&t, "plain", how).unwrap(), b"plain\n", "{how:?}");
            assert_eq!(beneath(&t, "./sub/nested", how).unwrap(), b"nested");
            assert_eq!(beneath(&t, "alias", how).unwrap(), b"plain\n", "{how:?}");
            assert_eq!(beneath(&t, "subdir/nested", how).unwrap(), b"nested");
            assert_eq!(beneath(&t, "abs-alias", how).unwrap(), b"nested", "{how:?}");
            assert_eq!(beneath(&t, "abs-subdir/nested", how).unwrap(), b"nested");
            let abs = t.0.join("dir/abs-alias");
            assert_eq!(&*read_with(&abs, 1024, how).unwrap(), b"nested", "{how:?}");
            assert_eq!(beneath(&t, "token", how).unwrap(), b"jwt", "{how:?}");
            // `read` opens beneath the parent: the Kubernetes token path is such a link.
            let token = t.0.join("dir/token");
            assert_eq!(&*read_with(&token, 1024, how).unwrap(), b"jwt", "{how:?}");
        }
    }

    #[test]
    fn escapes_are_refused() {
        let t = tree("escape");
        for how in BOTH {
            for relative in [
                "abs-out",
                "rel-out",
                "dir-out/file",
                "zero",
                "../outside",
                "sub/../../outside",
                "/etc/passwd",
            ] {
                assert_eq!(
                    kind(beneath(&t, relative, how)),
                    ErrorKind::PermissionDenied,
                    "{relative} {how:?}"
                );
            }
            // `read` of a link leading out of its own directory.
            let link = t.0.join("dir/abs-out");
            assert_eq!(
                kind(read_with(&link, 1024, how).map(|b| b.to_vec())),
                ErrorKind::PermissionDenied,
                "{how:?}"
            );
            let zero = t.0.join("dir/zero");
            assert_eq!(
                kind(read_with(&zero, 1024, how).map(|b| b.to_vec())),
                ErrorKind::PermissionDenied,
                "{how:?}"
            );
        }
    }

    #[test]
    fn escape_message() {
        let t = tree("message");
        let err = beneath(&t, "abs-out", Resolve::Kernel).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("is a link that leads outside its directory"),
            "{err}"
        );
        let err = beneath(&t, "../outside", Resolve::Kernel).unwrap_err();
        assert!(err.to_string().contains("leaves the directory"), "{err}");
    }

    #[test]
    fn missing_and_directories() {
        let t = tree("missing");
        for how in BOTH {
            for relative in ["missing", "dangling", "sub", ".", "plain/x"] {
                assert_eq!(
                    kind(beneath(&t, relative, how)),
                    ErrorKind::NotFound,
                    "{relative} {how:?}"
                );
            }
            let err = read_beneath_with(&t.0.join("nope"), "plain", 1024, how).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{how:?}");
            let missing_parent = t.0.join("nope/file");
            assert_eq!(
                read_with(&missing_parent, 1024, how).unwrap_err().kind(),
                ErrorKind::NotFound
            );
        }
        assert_eq!(
            read(Path::new("/"), 1024).unwrap_err().kind(),
            ErrorKind::InvalidConfig
        );
    }

    /// Runs `f` on a thread and fails (instead of hanging) if it takes more than 5 s; returns
    /// its result and how long it took.
    fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> (T, Duration) {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let start = Instant::now();
            let out = f();
            let _ = tx.send((out, start.elapsed()));
        });
        rx.recv_timeout(Duration::from_secs(5))
            .expect("reading the file blocked")
    }

    #[test]
    fn fifos_are_refused_at_once() {
        let t = tree("fifo");
        let dir = t.0.join("dir");
        for how in BOTH {
            let d = dir.clone();
            let (result, took) =
                bounded(move || read_beneath_with(&d, "fifo", 1024, how).map(|b| b.to_vec()));
            let err = result.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{how:?}");
            assert!(err.to_string().contains("is a FIFO"), "{err}");
            assert!(took < Duration::from_secs(1), "{took:?}");
            let f = dir.join("fifo");
            let (result, took) = bounded(move || read_with(&f, 1024, how).map(|b| b.to_vec()));
            assert_eq!(result.unwrap_err().kind(), ErrorKind::InvalidConfig);
            assert!(took < Duration::from_secs(1), "{took:?}");
        }
    }

    #[test]
    fn sockets_are_refused() {
        let t = tree("socket");
        let dir = t.0.join("dir");
        let _listener = std::os::unix::net::UnixListener::bind(dir.join("socket")).unwrap();
        for how in BOTH {
            let err = read_beneath_with(&dir, "socket", 1024, how).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{how:?}: {err}");
            assert!(err.to_string().contains("socket"), "{err}");
        }
    }

    #[test]
    fn devices_are_refused() {
        for how in BOTH {
            let (result, took) = bounded(move || {
                read_with(Path::new("/dev/zero"), DEFAULT, how).map(|b| b.to_vec())
            });
            let err = result.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidConfig);
            assert_eq!(
                err.to_string(),
                "/dev/zero is a character device, not a regular file"
            );
            assert!(took < Duration::from_secs(1), "{took:?}");
            let null = read_with(Path::new("/dev/null"), DEFAULT, how).unwrap_err();
            assert_eq!(null.kind(), ErrorKind::InvalidConfig);
        }
    }

    const DEFAULT: u64 = crate::vault::DEFAULT_MAX_FILE_SIZE;

    #[test]
    fn the_limit_is_exact() {
        let t = tree("limit");
        let dir = t.0.join("dir");
        let cap = 1000;
        std::fs::write(dir.join("exact"), vec![b'x'; cap]).unwrap();
        let over = CANARY.repeat(cap / CANARY.len() + 1);
        assert!(over.len() > cap);
        std::fs::write(dir.join("over"), &over).unwrap();
        std::fs::write(dir.join("empty"), "").unwrap();
        for how in BOTH {
            let exact = read_beneath_with(&dir, "exact", cap as u64, how).unwrap();
            assert_eq!(exact.len(), cap);
            let err = read_beneath_with(&dir, "over", cap as u64, how).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidConfig);
            assert!(
                err.to_string().ends_with(
                    "is larger than the 1000-byte limit (ResolverBuilder::max_file_size)"
                ),
                "{err}"
            );
            assert_eq!(kind(Err(err)), ErrorKind::InvalidConfig);
            assert!(read_beneath_with(&dir, "empty", 0, how).unwrap().is_empty());
            assert_eq!(
                read_beneath_with(&dir, "plain", 0, how).unwrap_err().kind(),
                ErrorKind::InvalidConfig
            );
        }
    }

    /// A file whose handle reports a size smaller than its contents (as /proc files do)
    /// grows the buffer by hand, still within the limit.
    #[test]
    fn files_that_lie_about_their_size() {
        let status = Path::new("/proc/self/status");
        if !status.exists() {
            return;
        }
        assert_eq!(std::fs::metadata(status).unwrap().len(), 0);
        let text = read(status, DEFAULT).unwrap();
        assert!(text.starts_with(b"Name:"));
        let err = read(status, 16).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{err}");
    }

    #[test]
    fn the_buffer_is_sized_from_the_handle() {
        let t = tree("capacity");
        let path = t.0.join("dir/plain");
        let bytes = read(&path, DEFAULT).unwrap();
        assert_eq!(&*bytes, b"plain\n");
        // One allocation of the file's size plus the byte that finds the end.
        assert_eq!(bytes.capacity(), 7);
    }

    #[test]
    fn magic_links_are_refused() {
        // With openat2 RESOLVE_NO_MAGICLINKS refuses it; without, it resolves outside.
        use std::os::fd::AsRawFd;
        let file = File::open(std::env::temp_dir()).unwrap();
        let link = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
        assert_eq!(
            read(&link, DEFAULT).unwrap_err().kind(),
            ErrorKind::PermissionDenied
        );
    }
}
