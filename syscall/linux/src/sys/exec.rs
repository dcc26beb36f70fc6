//! execve: replace the calling process's program.

use crate::exec::elf;
use crate::exec::load;
use crate::kernel::Kernel;
use crate::process::{Regs, Task, new_vm};
use alloc::sync::Arc;
use alloc::vec::Vec;
use arch_api::UserContext;
use core::sync::atomic::Ordering;
use syscall::{Errno, Result};
use vfs::{EmptyPath, FileType, OpenFile, OpenFlags, Path};

const PATH_MAX: usize = 4096;
/// Nested `#!` interpreters Linux follows (BINPRM_MAX_RECURSION).
const MAX_INTERP_DEPTH: usize = 4;
const SIG_IGN: u64 = 1;

pub fn execve<K: Kernel>(
    t: &Arc<Task<K>>,
    regs: &mut Regs<K>,
    path: u64,
    argv: u64,
    envp: u64,
) -> Result<usize> {
    let u = t.process.user();
    let path = u.read_cstr(path, PATH_MAX)?;
    let argv = u.read_cstr_array(argv)?;
    let envp = u.read_cstr_array(envp)?;
    exec(t, regs, path, argv, envp, 0)
}

/// Linux's `de_thread`: the new program starts with one thread, so every other thread of the
/// process ends (at its next return to user mode; a blocked one is kicked out of its wait)
/// before the old address space goes. `EINTR` if the process is being killed meanwhile.
fn end_other_threads<K: Kernel>(t: &Arc<Task<K>>) -> Result<()> {
    let p = &t.process;
    let others: Vec<Arc<Task<K>>> = p
        .threads
        .lock()
        .iter()
        .filter(|o| !Arc::ptr_eq(o, t))
        .cloned()
        .collect();
    for o in &others {
        o.zapped.store(true, Ordering::Release);
        crate::signal::kick(o);
    }
    while p.threads.lock().len() > 1 {
        if p.group_exit.lock().is_some() {
            return Err(Errno::EINTR);
        }
        K::sched().sleep_ticks(1);
    }
    t.become_leader();
    Ok(())
}

/// Split a `#!` line into the interpreter and its optional single argument.
fn shebang(image: &[u8]) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
    let rest = image.strip_prefix(b"#!")?;
    let line = &rest[..rest
        .iter()
        .take(256)
        .position(|&b| b == b'\n')
        .unwrap_or(rest.len().min(256))];
    let line = line.trim_ascii();
    let split = line.iter().position(|b| b.is_ascii_whitespace());
    let (interp, arg) = match split {
        Some(i) => (&line[..i], Some(line[i..].trim_ascii())),
        None => (line, None),
    };
    if interp.is_empty() {
        return None;
    }
    Some((
        interp.to_vec(),
        arg.filter(|a| !a.is_empty()).map(<[u8]>::to_vec),
    ))
}

/// The start of an executable: enough for a `#!` line and the ELF and program headers
/// ([`elf::head_len`], capped at 64 KiB); the segments are mapped from the file itself.
fn read_head(file: &OpenFile) -> Result<Vec<u8>> {
    let mut head = alloc::vec![0u8; 4096];
    let mut done = 0;
    loop {
        while done < head.len() {
            match file.pread(&mut head[done..], done as i64)? {
                0 => break,
                n => done += n,
            }
        }
        let want = elf::head_len(&head[..done]).map_or(0, |n| n.min(64 << 10) as usize);
        if done < head.len() || want <= head.len() {
            head.truncate(done);
            return Ok(head);
        }
        head.resize(want, 0);
    }
}

pub(crate) fn exec<K: Kernel>(
    t: &Arc<Task<K>>,
    regs: &mut Regs<K>,
    path: Vec<u8>,
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
    depth: usize,
) -> Result<usize> {
    let p = &t.process;
    // Executable regular file?
    let meta = p.lookup(|l| K::vfs().stat(l, Path::new(&path, EmptyPath::Deny)?, true))?;
    if meta.file_type() != FileType::Regular {
        return Err(Errno::EACCES);
    }
    p.lookup(|l| K::vfs().access(l, Path::new(&path, EmptyPath::Deny)?, 1, true))?;
    // Execute permission is enough (Linux reads the file for the kernel): open it as root.
    let file = p.lookup_as(&vfs::Cred::ROOT, |l| {
        K::vfs().open(l, Path::new(&path, EmptyPath::Deny)?, OpenFlags::RDONLY, 0)
    })?;
    // A `noexec` mount (the interpreter of a script is checked on its own exec).
    if file.path().is_some_and(|place| place.mount.noexec()) {
        return Err(Errno::EACCES);
    }
    let image = read_head(&file)?;
    log::debug!(
        "pid {}: exec {}",
        p.pid,
        alloc::string::String::from_utf8_lossy(&path)
    );
    if let Some((interp, arg)) = shebang(&image) {
        if depth >= MAX_INTERP_DEPTH {
            return Err(Errno::ELOOP);
        }
        let mut new_argv = Vec::with_capacity(argv.len() + 2);
        new_argv.push(interp.clone());
        new_argv.extend(arg);
        new_argv.push(path);
        new_argv.extend(argv.into_iter().skip(1));
        return exec(t, regs, interp, new_argv, envp, depth + 1);
    }
    let argv_refs: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
    let envp_refs: Vec<&[u8]> = envp.iter().map(Vec::as_slice).collect();
    // Set-user-ID and set-group-ID bits (not on a `nosuid` mount); saved = effective.
    let file_meta = file.metadata();
    let nosuid = file.path().is_some_and(|place| place.mount.nosuid());
    let (creds, secure) =
        p.creds()
            .after_exec(file_meta.mode, file_meta.uid, file_meta.gid, nosuid);
    let ids = load::AuxIds {
        uid: creds.uid,
        euid: creds.euid,
        gid: creds.gid,
        egid: creds.egid,
        secure,
    };
    let mut vm = new_vm::<K>()?;
    let source = super::mem::file_source(file.clone());
    let entry = load::load_file::<K>(
        &mut vm, &file, source, &image, &argv_refs, &envp_refs, &path, ids,
    )?;
    drop(image);
    end_other_threads(t)?;
    // Point of no return: switch to the new address space before the old one goes.
    let old = core::mem::replace(&mut *p.vm.lock(), vm);
    super::activate_root::<K>(p.vm.lock().root());
    drop(old);
    {
        let mut slot = p.cred.lock();
        if **slot != creds {
            *slot = Arc::new(creds);
        }
    }
    let closed = p.files.lock().close_on_exec();
    drop(closed);
    for a in p.actions.lock().iter_mut() {
        if a.handler != SIG_IGN {
            *a = Default::default();
        }
    }
    *t.altstack.lock() = (0, 2, 0);
    *p.exe.lock() = file.path().cloned();
    *p.name.lock() = path.rsplit(|&b| b == b'/').next().unwrap_or(&path).to_vec();
    *p.cmdline.lock() = argv
        .iter()
        .flat_map(|a| a.iter().copied().chain([0]))
        .collect();
    *regs = Regs::<K>::new(entry.ip, entry.sp);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::shebang;

    #[test]
    fn shebang_lines() {
        assert_eq!(
            shebang(b"#!/bin/sh\necho"),
            Some((b"/bin/sh".to_vec(), None))
        );
        assert_eq!(
            shebang(b"#! /bin/sh -e \n"),
            Some((b"/bin/sh".to_vec(), Some(b"-e".to_vec())))
        );
        assert_eq!(
            shebang(b"#!/usr/bin/env python3 -u"),
            Some((b"/usr/bin/env".to_vec(), Some(b"python3 -u".to_vec())))
        );
        assert_eq!(shebang(b"#!\n"), None);
        assert_eq!(shebang(b"\x7fELF"), None);
    }
}
