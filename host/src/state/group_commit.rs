//! The embedded store's database and its one writer.
//!
//! Writes go to a single writer thread that commits them in groups: everything waiting when a commit
//! starts goes into the next transaction and shares its one fsync, and every write is acknowledged
//! only after that commit. Batches are filled fairly, a few writes per tenant in turn, so one tenant's
//! write load delays another's writes by about one commit, never by its whole backlog.
//!
//! redb refuses every operation after an I/O error ("Previous I/O error occurred") until the database
//! is reopened. Here an I/O error marks the store faulted (reported by [`Db::fault`], so `/healthz`
//! and the admin view show it), the database is dropped, and the next operation reopens it, at most
//! every [`REOPEN_EVERY`], so the store recovers by itself once the fault clears (space freed, file
//! writable again).

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use redb::{Database, TableDefinition};
use tokio::sync::oneshot;

use super::StateError;

/// The one table.
pub(super) const TABLE: TableDefinition<&str, &[u8]> = TableDefinition::new("state");
/// Most writes in one transaction.
const BATCH: usize = 512;
/// Most writes of one tenant in one transaction while others wait.
const PER_TENANT: usize = 32;
/// Least time between two attempts to reopen a faulted database.
pub const REOPEN_EVERY: Duration = Duration::from_millis(250);

/// A redb table as the writer's jobs see it.
pub(super) type Table<'t> = redb::Table<'t, &'static str, &'static [u8]>;
/// What a job's work returns.
pub(super) type Output = Box<dyn Any + Send>;
/// Sweeps expired entries inside a group transaction.
pub(super) type Sweep = fn(&mut Table<'_>) -> Result<(), redb::StorageError>;
/// Where a job's result goes.
type Reply = oneshot::Sender<Result<Output, StateError>>;
/// One write's work inside the group transaction.
pub(super) type Work = Box<dyn FnOnce(&mut Table<'_>) -> Result<Output, redb::StorageError> + Send>;

fn io_like(e: &redb::Error) -> bool {
    matches!(
        e,
        redb::Error::Io(_) | redb::Error::PreviousIo | redb::Error::DatabaseClosed | redb::Error::LockPoisoned(_)
    )
}

/// The database file, reopened after faults.
#[derive(Debug)]
pub(super) struct Db {
    path: PathBuf,
    current: RwLock<Option<Arc<Database>>>,
    fault: Mutex<Option<String>>,
    last_reopen: Mutex<Option<Instant>>,
}

fn open_file(path: &Path) -> Result<Database, String> {
    let db = Database::create(path).map_err(|e| e.to_string())?;
    let txn = db.begin_write().map_err(|e| e.to_string())?;
    txn.open_table(TABLE).map_err(|e| e.to_string())?;
    txn.commit().map_err(|e| e.to_string())?;
    Ok(db)
}

impl Db {
    /// Opens (or creates) the database at `path`; at start, failing is an error.
    pub(super) fn open(path: &Path) -> Result<Arc<Db>, StateError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| StateError::Backend(format!("cannot create {}: {e}", dir.display())))?;
        }
        let db = open_file(path).map_err(|e| StateError::Backend(format!("cannot open {}: {e}", path.display())))?;
        Ok(Arc::new(Db {
            path: path.to_path_buf(),
            current: RwLock::new(Some(Arc::new(db))),
            fault: Mutex::default(),
            last_reopen: Mutex::default(),
        }))
    }

    /// The open database, reopening it after a fault (at most every [`REOPEN_EVERY`]).
    pub(super) fn get(&self) -> Result<Arc<Database>, StateError> {
        if let Some(db) = self.current.read().ok().and_then(|c| c.clone()) {
            return Ok(db);
        }
        let fault = self.fault().unwrap_or_else(|| "closed".into());
        let unavailable =
            |why: String| StateError::Backend(format!("embedded store unavailable after an I/O error ({fault}){why}"));
        {
            let mut last = self.last_reopen.lock().map_err(|_| unavailable(String::new()))?;
            if last.is_some_and(|t| t.elapsed() < REOPEN_EVERY) {
                return Err(unavailable(String::new()));
            }
            *last = Some(Instant::now());
        }
        let mut current = self.current.write().map_err(|_| unavailable(String::new()))?;
        if let Some(db) = current.clone() {
            return Ok(db);
        }
        match open_file(&self.path) {
            Ok(db) => {
                let db = Arc::new(db);
                *current = Some(Arc::clone(&db));
                // The fault stays until a write commits again (a full disk may still be full).
                tracing::warn!("embedded state store {} reopened after ({fault})", self.path.display());
                Ok(db)
            }
            Err(e) => Err(unavailable(format!("; reopening failed: {e}"))),
        }
    }

    /// Records `e` from an operation on `db`: an I/O fault drops the database, to be reopened.
    pub(super) fn failed(&self, db: &Arc<Database>, e: impl Into<redb::Error>) -> StateError {
        let e: redb::Error = e.into();
        if io_like(&e) {
            if let Ok(mut current) = self.current.write()
                && current.as_ref().is_some_and(|c| Arc::ptr_eq(c, db))
            {
                *current = None;
                tracing::error!(
                    "embedded state store {}: {e}; reopening it when the fault clears",
                    self.path.display()
                );
            }
            if let Ok(mut f) = self.fault.lock() {
                f.get_or_insert_with(|| e.to_string());
            }
        }
        StateError::Backend(format!("embedded store: {e}"))
    }

    /// A write committed: whatever fault there was has cleared.
    pub(super) fn committed(&self) {
        if let Ok(mut f) = self.fault.lock()
            && let Some(fault) = f.take()
        {
            tracing::warn!(
                "embedded state store {}: writes commit again; recovered from ({fault})",
                self.path.display()
            );
        }
    }

    /// The fault the store is in, if any.
    pub(super) fn fault(&self) -> Option<String> {
        self.fault.lock().ok().and_then(|f| f.clone())
    }
}

struct Job {
    tenant: String,
    durable: bool,
    work: Work,
    reply: Reply,
}

/// The handle to the writer thread.
#[derive(Debug, Clone)]
pub(super) struct Writer {
    tx: std::sync::mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread for `db`; it ends when every handle is dropped.
    pub(super) fn start(db: Arc<Db>, sweep: Sweep) -> Result<Self, StateError> {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("state-writer".into())
            .spawn(move || run(&db, &rx, sweep))
            .map_err(|e| StateError::Backend(format!("cannot start the state writer: {e}")))?;
        Ok(Writer { tx })
    }

    /// Runs `work` in the next group transaction; the result comes after it committed.
    pub(super) async fn write(&self, tenant: &str, durable: bool, work: Work) -> Result<Output, StateError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job { tenant: tenant.to_owned(), durable, work, reply })
            .map_err(|_| StateError::Backend("embedded store: the writer has stopped".into()))?;
        rx.await.map_err(|_| StateError::Backend("embedded store: the writer dropped the write".into()))?
    }
}

/// Writes between two sweeps of expired entries.
const SWEEP_EVERY_WRITES: usize = 1024;
/// Longest time between two sweeps of expired entries while writes come.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

fn run(db: &Db, rx: &std::sync::mpsc::Receiver<Job>, sweep: Sweep) {
    let mut queues: HashMap<String, VecDeque<Job>> = HashMap::new();
    let mut ring: VecDeque<String> = VecDeque::new();
    let mut since_sweep = 0usize;
    let mut last_sweep = Instant::now();
    let enqueue = |job: Job, queues: &mut HashMap<String, VecDeque<Job>>, ring: &mut VecDeque<String>| {
        let q = queues.entry(job.tenant.clone()).or_default();
        if q.is_empty() {
            ring.push_back(job.tenant.clone());
        }
        q.push_back(job);
    };
    loop {
        if ring.is_empty() {
            match rx.recv() {
                Ok(job) => enqueue(job, &mut queues, &mut ring),
                Err(_) => return,
            }
        }
        while let Ok(job) = rx.try_recv() {
            enqueue(job, &mut queues, &mut ring);
        }
        // A few writes per tenant in turn, until the batch is full or everyone is served.
        let mut batch = Vec::new();
        let mut turns = ring.len();
        while batch.len() < BATCH && turns > 0 {
            turns -= 1;
            let Some(tenant) = ring.pop_front() else { break };
            let Some(q) = queues.get_mut(&tenant) else { continue };
            for _ in 0..PER_TENANT.min(BATCH - batch.len()) {
                match q.pop_front() {
                    Some(job) => batch.push(job),
                    None => break,
                }
            }
            if q.is_empty() {
                queues.remove(&tenant);
            } else {
                ring.push_back(tenant);
            }
        }
        since_sweep += batch.len();
        let sweep_now = since_sweep >= SWEEP_EVERY_WRITES || last_sweep.elapsed() >= SWEEP_EVERY;
        if sweep_now {
            since_sweep = 0;
            last_sweep = Instant::now();
        }
        commit(db, batch, sweep_now.then_some(sweep));
    }
}

fn commit(db: &Db, batch: Vec<Job>, sweep: Option<Sweep>) {
    let fail_all = |batch: Vec<Job>, e: &StateError| {
        for job in batch {
            let _ = job.reply.send(Err(e.clone()));
        }
    };
    let database = match db.get() {
        Ok(d) => d,
        Err(e) => return fail_all(batch, &e),
    };
    let mut txn = match database.begin_write() {
        Ok(t) => t,
        Err(e) => return fail_all(batch, &db.failed(&database, e)),
    };
    if !batch.iter().any(|j| j.durable)
        && let Err(e) = txn.set_durability(redb::Durability::None)
    {
        return fail_all(batch, &db.failed(&database, e));
    }
    let mut done: Vec<(Reply, Result<Output, StateError>)> = Vec::new();
    {
        let mut table = match txn.open_table(TABLE) {
            Ok(t) => t,
            Err(e) => return fail_all(batch, &db.failed(&database, e)),
        };
        let mut jobs = batch.into_iter();
        while let Some(job) = jobs.next() {
            match (job.work)(&mut table) {
                Ok(out) => done.push((job.reply, Ok(out))),
                Err(e) => {
                    let e: redb::Error = e.into();
                    if io_like(&e) {
                        // The transaction is lost: nothing of it is acknowledged.
                        let failure = db.failed(&database, e);
                        let _ = job.reply.send(Err(failure.clone()));
                        for (reply, _) in done {
                            let _ = reply.send(Err(failure.clone()));
                        }
                        return fail_all(jobs.collect(), &failure);
                    }
                    done.push((job.reply, Err(StateError::Backend(format!("embedded store: {e}")))));
                }
            }
        }
        if let Some(sweep) = sweep
            && let Err(e) = sweep(&mut table)
        {
            tracing::warn!("embedded store: sweeping expired entries failed: {e}");
        }
    }
    match txn.commit() {
        Ok(()) => {
            db.committed();
            for (reply, result) in done {
                let _ = reply.send(result);
            }
        }
        Err(e) => {
            let failure = db.failed(&database, e);
            for (reply, _) in done {
                let _ = reply.send(Err(failure.clone()));
            }
        }
    }
}
