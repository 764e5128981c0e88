//! A small file system for a node's data directory, so that the disk
//! faults can act on it alone: an ext4 image file, loop-mounted (needs
//! root, `mkfs.ext4` and `mount`, as the end-to-end tests do). `disk-full`
//! takes the free space with a ballast file and frees it by deleting it;
//! `slow-disk` puts the broker in a blkio cgroup (v1) and throttles its
//! writes to the loop device.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::error::CheckError;
use super::limits;

pub struct SmallDisk {
    node: usize,
    image: PathBuf,
    mount_point: PathBuf,
    mounted: bool,
}

/// Why small disks cannot be made here, if they cannot.
pub fn unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("the disk-full fault loop-mounts a small file system: run as root".into());
    }
    for tool in ["mkfs.ext4", "mount", "umount"] {
        let found = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Some(format!(
                "the disk-full fault needs `{tool}`, not found on PATH"
            ));
        }
    }
    None
}

/// Where blkio cgroups (v1) live.
const BLKIO: &str = "/sys/fs/cgroup/blkio";

/// Why writes cannot be throttled here, if they cannot.
pub fn throttle_unavailable() -> Option<String> {
    let probe = Path::new(BLKIO).join("blkio.throttle.write_bps_device");
    (!probe.exists()).then(|| {
        format!(
            "the slow-disk fault throttles writes with a blkio cgroup (v1), and {} is missing",
            probe.display()
        )
    })
}

/// A blkio cgroup holding one node's broker, whose writes to the node's
/// small disk it can throttle.
pub struct Throttle {
    node: usize,
    dir: PathBuf,
    /// The loop device's major:minor.
    device: String,
}

impl Throttle {
    /// A cgroup for node `node`'s broker, throttling the device that holds
    /// `mount_point`.
    pub fn create(node: usize, mount_point: &Path) -> Result<Throttle, CheckError> {
        use std::os::unix::fs::MetadataExt;
        let fail = |reason: String| CheckError::Disk { node, reason };
        let dev = std::fs::metadata(mount_point)
            .map_err(|e| fail(format!("{}: {e}", mount_point.display())))?
            .dev();
        let dir = Path::new(BLKIO).join(format!("sluice-check-{}-node-{node}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| fail(format!("creating {}: {e}", dir.display())))?;
        Ok(Throttle {
            node,
            dir,
            device: format!("{}:{}", libc::major(dev), libc::minor(dev)),
        })
    }

    fn write(&self, file: &str, text: &str) -> Result<(), CheckError> {
        std::fs::write(self.dir.join(file), text).map_err(|e| CheckError::Disk {
            node: self.node,
            reason: format!("writing {text:?} to {}: {e}", self.dir.join(file).display()),
        })
    }

    /// Moves the process (all its threads) into the cgroup.
    pub fn adopt(&self, pid: u32) -> Result<(), CheckError> {
        self.write("cgroup.procs", &pid.to_string())
    }

    /// Limits writes to `bytes_per_s` and `ops_per_s`.
    pub fn slow(&self, bytes_per_s: u64, ops_per_s: u64) -> Result<(), CheckError> {
        self.write(
            "blkio.throttle.write_bps_device",
            &format!("{} {bytes_per_s}", self.device),
        )?;
        self.write(
            "blkio.throttle.write_iops_device",
            &format!("{} {ops_per_s}", self.device),
        )
    }

    /// Lifts the limits.
    pub fn heal(&self) -> Result<(), CheckError> {
        self.write(
            "blkio.throttle.write_bps_device",
            &format!("{} 0", self.device),
        )?;
        self.write(
            "blkio.throttle.write_iops_device",
            &format!("{} 0", self.device),
        )
    }
}

impl Drop for Throttle {
    fn drop(&mut self) {
        let _ = self.heal();
        // Succeeds once the broker has exited (an empty cgroup).
        let _ = std::fs::remove_dir(&self.dir);
    }
}

impl SmallDisk {
    /// Makes an ext4 file system of `size_mib` in `image` and mounts it on
    /// `mount_point` (which must exist).
    pub fn create(
        node: usize,
        image: &Path,
        mount_point: &Path,
        size_mib: u64,
    ) -> Result<SmallDisk, CheckError> {
        let fail = |reason: String| CheckError::Disk { node, reason };
        File::create(image)
            .and_then(|f| f.set_len(size_mib << 20))
            .map_err(|e| fail(format!("creating {}: {e}", image.display())))?;
        // No blocks reserved for root: the broker runs as root and would
        // otherwise still find room after the ballast took the rest.
        run(Command::new("mkfs.ext4")
            .args(["-q", "-F", "-m", "0"])
            .arg(image))
        .map_err(&fail)?;
        run(Command::new("mount")
            .args(["-o", "loop"])
            .arg(image)
            .arg(mount_point))
        .map_err(&fail)?;
        Ok(SmallDisk {
            node,
            image: image.to_path_buf(),
            mount_point: mount_point.to_path_buf(),
            mounted: true,
        })
    }

    fn ballast(&self) -> PathBuf {
        self.mount_point.join("sluice-check-ballast")
    }

    /// Takes all the free space; returns how many bytes that was.
    pub fn fill(&self) -> Result<u64, CheckError> {
        let fail = |reason: String| CheckError::Disk {
            node: self.node,
            reason,
        };
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.ballast())
            .map_err(|e| fail(format!("opening the ballast: {e}")))?;
        let mut taken = 0u64;
        // Most of it at once without writing a byte, the last blocks (which
        // metadata overhead keeps fallocate from getting) by writing.
        let free = free_bytes(&self.mount_point).map_err(|e| fail(format!("statvfs: {e}")))?;
        let mut want = free;
        while want >= limits::DISK_FALLOCATE_MIN_BYTES {
            // SAFETY: fallocate on an open descriptor we own.
            let r = unsafe { libc::fallocate(file.as_raw_fd(), 0, taken as i64, want as i64) };
            if r == 0 {
                taken += want;
                break;
            }
            want /= 2;
        }
        let chunk = vec![0u8; limits::DISK_FILL_CHUNK_BYTES];
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(n) => taken += n as u64,
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => return Err(fail(format!("writing the ballast: {e}"))),
            }
        }
        // ext4 reserves delayed-allocation blocks at write time, so the
        // broker's next append already finds the disk full; syncing makes
        // sure the blocks are really taken.
        let _ = file.sync_all();
        Ok(taken)
    }

    /// Gives the space back.
    pub fn free(&self) -> Result<(), CheckError> {
        match std::fs::remove_file(self.ballast()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(CheckError::Disk {
                node: self.node,
                reason: format!("removing the ballast: {e}"),
            }),
        }
    }

    /// Unmounts; the image stays (with the broker's data) unless `delete`.
    pub fn unmount(&mut self, delete: bool) {
        if self.mounted {
            let _ = self.free();
            let _ = Command::new("umount").arg(&self.mount_point).status();
            self.mounted = false;
        }
        if delete {
            let _ = std::fs::remove_file(&self.image);
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        if self.mounted {
            // Lazy: a broker killed a moment ago may still hold files open.
            let _ = Command::new("umount")
                .arg("-l")
                .arg(&self.mount_point)
                .status();
        }
    }
}

fn free_bytes(path: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: statvfs writes into the zeroed struct we pass; the path is a
    // valid NUL-terminated string.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(stat.f_bavail as u64 * stat.f_frsize as u64)
}

fn run(command: &mut Command) -> Result<(), String> {
    let out = command.output().map_err(|e| format!("{command:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
