//! Process gauges from /proc (Linux; `None` where /proc is missing, e.g. an
//! empty root without it mounted).

/// Resident set size: the second field of /proc/self/statm, in pages.
pub fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE).ok()??;
    Some(pages * u64::try_from(page).ok().filter(|p| *p > 0)?)
}

/// Open file descriptors: the entries of /proc/self/fd, less the one the
/// listing itself holds open.
pub fn open_fds() -> Option<u64> {
    let n = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    Some(n.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_this_process() {
        let rss = super::rss_bytes().expect("/proc/self/statm");
        assert!(rss > 1 << 20, "{rss}");
        // stdin, stdout, stderr and this file at least (other tests open
        // and close files concurrently: no exact count).
        let f = std::fs::File::open("/proc/self/statm").unwrap();
        assert!(super::open_fds().expect("/proc/self/fd") >= 4);
        drop(f);
    }
}
