//! Talking to git repositories with libgit2 (`git2`), shared by the imports and the git
//! source: the commit a ref names (without fetching objects), and a shallow fetch of one ref
//! into a bare repository. https and ssh use the usual credentials (ssh-agent, git's
//! credential helpers); `file://` URLs and plain paths are read directly. Every network step is
//! bounded in time.

use std::sync::Once;
use std::time::{Duration, Instant};

use git2::{
    AutotagOption, Cred, CredentialType, Direction, FetchOptions, RemoteCallbacks, Repository,
};

/// Why a git operation failed.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The URL is not one git can fetch.
    #[error("{0}")]
    BadUrl(String),
    /// The repository has no such branch or tag.
    #[error("{0}")]
    NoSuchRef(String),
    /// The repository could not be reached or read.
    #[error("{0}")]
    Failed(String),
}

/// Fetch progress, as reported to a job's record.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FetchProgress {
    /// Objects received so far.
    pub received_objects: usize,
    /// Objects the server said it sends.
    pub total_objects: usize,
    /// Bytes received so far.
    pub received_bytes: usize,
}

/// Sets libgit2's connect and read timeouts (process-wide, once, before any git work).
pub fn set_timeouts(timeout: Duration) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: called once, before this process starts any git operation.
        unsafe {
            let _ = git2::opts::set_server_connect_timeout_in_milliseconds(ms);
            let _ = git2::opts::set_server_timeout_in_milliseconds(ms);
        }
    });
}

fn failed(url: &str, e: git2::Error) -> GitError {
    GitError::Failed(format!("git repository '{url}': {}", e.message()))
}

/// Credentials: ssh-agent for ssh, git's credential helpers for https; a few tries at most.
fn callbacks<'a>(
    deadline: Instant,
    mut on_progress: impl FnMut(FetchProgress) + 'a,
) -> RemoteCallbacks<'a> {
    let mut cbs = RemoteCallbacks::new();
    let mut tries = 0;
    cbs.credentials(move |url, user, allowed| {
        tries += 1;
        if tries > 3 {
            return Err(git2::Error::from_str("no credentials were accepted"));
        }
        if allowed.contains(CredentialType::SSH_KEY) {
            return Cred::ssh_key_from_agent(user.unwrap_or("git"));
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT)
            && let Ok(config) = git2::Config::open_default()
        {
            return Cred::credential_helper(&config, url, user);
        }
        Cred::default()
    });
    cbs.transfer_progress(move |p| {
        on_progress(FetchProgress {
            received_objects: p.received_objects(),
            total_objects: p.total_objects(),
            received_bytes: p.received_bytes(),
        });
        // Returning false stops the transfer: the time is up.
        Instant::now() < deadline
    });
    cbs
}

/// The URL, checked to be one git can fetch (https, http, ssh, git, file, `git@host:` or an
/// absolute path).
pub fn remote_url(url: &str) -> Result<String, GitError> {
    let trimmed = url.trim();
    let allowed = ["https://", "http://", "ssh://", "git://", "file://", "git@"];
    if trimmed.is_empty()
        || !(allowed.iter().any(|p| trimmed.starts_with(p)) || trimmed.starts_with('/'))
    {
        return Err(GitError::BadUrl(format!(
            // Escaped here rather than with the source module's helper: that module uses
            // this one, and the dependency goes one way only.
            "url '{}' is not an https, ssh or file URL",
            trimmed.chars().take(300).collect::<String>().escape_debug()
        )));
    }
    Ok(trimmed.to_string())
}

fn is_local(url: &str) -> bool {
    url.starts_with("file://") || url.starts_with('/')
}

fn is_sha(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The commit `git_ref` (a branch, a tag, `HEAD`/empty, or a full commit id) names in the
/// repository at `url`, and the full ref name to fetch it by.
pub fn resolve_ref(
    url: &str,
    git_ref: &str,
    timeout: Duration,
) -> Result<(String, String), GitError> {
    let url = remote_url(url)?;
    if is_sha(git_ref) {
        return Ok((git_ref.to_lowercase(), git_ref.to_lowercase()));
    }
    let deadline = Instant::now() + timeout;
    let mut remote = git2::Remote::create_detached(url.as_str()).map_err(|e| failed(&url, e))?;
    let connection = remote
        .connect_auth(Direction::Fetch, Some(callbacks(deadline, |_| {})), None)
        .map_err(|e| failed(&url, e))?;
    let heads = connection.list().map_err(|e| failed(&url, e))?;
    let wanted = if git_ref.is_empty() || git_ref == "HEAD" {
        vec!["HEAD".to_string()]
    } else {
        vec![
            format!("refs/heads/{git_ref}"),
            format!("refs/tags/{git_ref}^{{}}"),
            format!("refs/tags/{git_ref}"),
            git_ref.to_string(),
        ]
    };
    for name in &wanted {
        if let Some(head) = heads.iter().find(|h| h.name() == name) {
            let fetch_name = name.trim_end_matches("^{}").to_string();
            return Ok((head.oid().to_string(), fetch_name));
        }
    }
    Err(GitError::NoSuchRef(format!(
        "git repository '{url}' has no branch or tag '{git_ref}'"
    )))
}

/// Fetches `fetch_name` of `url` into `repo` (shallowly over the network; libgit2's local
/// transport cannot, and reads only what the ref reaches anyway) as `refs/skillmeat/fetched`.
pub fn fetch_ref(
    repo: &Repository,
    url: &str,
    fetch_name: &str,
    timeout: Duration,
    on_progress: impl FnMut(FetchProgress),
) -> Result<(), GitError> {
    let deadline = Instant::now() + timeout;
    let url = remote_url(url)?;
    let mut remote = repo.remote_anonymous(&url).map_err(|e| failed(&url, e))?;
    let refspec = format!("+{fetch_name}:refs/skillmeat/fetched");
    let mut options = FetchOptions::new();
    options
        .remote_callbacks(callbacks(deadline, on_progress))
        .download_tags(AutotagOption::None);
    if !is_local(&url) {
        options.depth(1);
    }
    remote
        .fetch(&[refspec.as_str()], Some(&mut options), None)
        .map_err(|e| {
            if Instant::now() >= deadline {
                GitError::Failed(format!(
                    "git repository '{url}' did not answer within {} s",
                    timeout.as_secs()
                ))
            } else {
                failed(&url, e)
            }
        })
}
