//! One deploy, undeploy, update or scan at a time per project: a mutex per project in this
//! process and, on PostgreSQL, a transaction-scoped advisory lock, so instances sharing the
//! database take turns too.

use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseTransaction, DbErr, Statement, TransactionTrait,
};
use sha2::{Digest, Sha256};

use super::DeployService;

/// Held while a project's files and records change; released when dropped (the advisory lock
/// ends with its transaction, which is rolled back: it wrote nothing).
pub struct ProjectGuard {
    _local: tokio::sync::OwnedMutexGuard<()>,
    _shared: Option<DatabaseTransaction>,
}

/// The advisory lock key of a project: the first 8 bytes of a digest of its id.
pub fn advisory_key(project_id: &str) -> i64 {
    let digest = Sha256::digest(format!("skillmeat-server project lock\0{project_id}"));
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

impl DeployService {
    /// Waits for the project's turn, in this process and (on PostgreSQL) in every instance.
    pub(crate) async fn lock_project(&self, project_id: &str) -> Result<ProjectGuard, DbErr> {
        let local = {
            let mut locks = self
                .inner
                .project_locks
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            locks.entry(project_id.to_string()).or_default().clone()
        };
        let local = local.lock_owned().await;
        let shared = if self.db().get_database_backend() == DatabaseBackend::Postgres {
            let txn = self.db().begin().await?;
            txn.execute_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT pg_advisory_xact_lock($1)",
                [advisory_key(project_id).into()],
            ))
            .await?;
            Some(txn)
        } else {
            None
        };
        Ok(ProjectGuard {
            _local: local,
            _shared: shared,
        })
    }
}
