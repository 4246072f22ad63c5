//! The read-only look's follower thread: woken by the file system (inotify on Linux) when the
//! owner's workspace changes, it reads what grew and hands the changes to the loop's inbox.
//! Nothing polls: with no change the thread sleeps in `recv`.

use std::collections::HashSet;
use std::path::PathBuf;

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::app::Msg;
use crate::store::follow::Follower;

/// Starts following; the thread ends when the owner lets the workspace go or the loop is gone.
pub fn spawn(mut follower: Follower, inbox: mpsc::UnboundedSender<Msg>) -> notify::Result<()> {
    let (tx, rx) = std::sync::mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |event| {
        let _ = tx.send(event);
    })?;
    watcher.watch(follower.dir(), RecursiveMode::Recursive)?;
    let thread = std::thread::Builder::new().name("follow".into()).spawn(move || {
        let _watcher = watcher;
        // First everything: what was written between the opening's read and the watch.
        let mut touched: Option<HashSet<PathBuf>> = None;
        loop {
            let changes = follower.changed(touched.as_ref());
            if !changes.is_empty() && inbox.send(Msg::Followed(changes)).is_err() {
                return;
            }
            if follower.owner_gone() {
                return;
            }
            let Ok(first) = rx.recv() else { return };
            // A batch of only our own opens and reads names nothing: nothing is read again.
            touched = paths(std::iter::once(first).chain(rx.try_iter()));
        }
    });
    thread.map(|_| ()).map_err(notify::Error::io)
}

/// The files a batch of events names; `None` (look at everything) when the watcher lost track.
fn paths(events: impl Iterator<Item = notify::Result<notify::Event>>) -> Option<HashSet<PathBuf>> {
    let mut out = HashSet::new();
    for event in events {
        let Ok(event) = event else { return None };
        if event.need_rescan() {
            return None;
        }
        // Opening and reading a file (this thread's own reads) change nothing.
        let ours = matches!(
            event.kind,
            EventKind::Access(AccessKind::Open(_) | AccessKind::Close(AccessMode::Read))
                | EventKind::Access(AccessKind::Read)
        );
        if !ours {
            out.extend(event.paths);
        }
    }
    Some(out)
}
