//! The command line: `serve` (the default), `migrate up|down|status`, `gen-key`,
//! `import-skillmeat`, `--config`, `--version`.
//!
//! Exit status: 0 success, 1 a runtime failure (database unreachable, port taken), 2 a
//! configuration or usage error.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use migration::{Migrator, MigratorTrait};

use crate::config::Settings;
use crate::startup::{Application, shutdown_signal};
use crate::{db, telemetry};

/// skillmeat-server: collections, deployments and a persistent artifact cache for AI-agent
/// artifacts, with a REST API documented at /docs.
#[derive(Debug, Parser)]
#[command(name = "skillmeat-server", version, about)]
pub struct Cli {
    /// Configuration file (TOML); overrides config/default.toml, overridden by SKILLMEAT_* env.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (migrates the database first).
    Serve,
    /// Print a new random API key (256 bits, 64 hex characters) for `auth.api_key`.
    GenKey,
    /// Import SkillMeat's collections and groups from its database (read, never changed) and
    /// print what was imported and what was skipped; a second run adds only what is new.
    ImportSkillmeat {
        /// SkillMeat's database (default: <data home>/cache/cache.db).
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
        /// Print the report as JSON (the API's shape).
        #[arg(long)]
        json: bool,
    },
    /// Manage the database schema.
    Migrate {
        /// The migration action.
        #[command(subcommand)]
        action: MigrateAction,
    },
}

/// Migration actions.
#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Roll back migrations (one by default).
    Down {
        /// How many to roll back.
        #[arg(long, default_value_t = 1, conflicts_with = "all")]
        steps: u32,
        /// Roll back every migration (drops the server's tables).
        #[arg(long)]
        all: bool,
    },
    /// List migrations and whether each is applied.
    Status,
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    crate::memory::limit_allocator_arenas();
    let cli = Cli::parse();
    // Making a key needs no configuration (it is what a configuration without one lacks).
    if matches!(cli.command, Some(Command::GenKey)) {
        return match crate::config::generate_key() {
            Ok(key) => {
                println!("{key}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("skillmeat-server: cannot make a key: {e}");
                ExitCode::from(1)
            }
        };
    }
    // The import prints its report on standard output; its log goes to standard error.
    telemetry::init_to(matches!(cli.command, Some(Command::ImportSkillmeat { .. })));
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(settings).await,
            Command::Migrate { action } => migrate(settings, action).await,
            Command::ImportSkillmeat { from, json } => import_skillmeat(settings, from, json).await,
            Command::GenKey => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("skillmeat-server: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let shutdown = shutdown_signal()?;
    let app = Application::build(settings).await?;
    app.run_until_stopped(shutdown).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn import_skillmeat(
    settings: Settings,
    from: Option<PathBuf>,
    json: bool,
) -> anyhow::Result<()> {
    let file = from.unwrap_or_else(|| crate::import::skillmeat_db(&settings.data_home_path()));
    let state = crate::startup::build_state(settings).await?;
    let report = crate::import::import_skillmeat(&state.collections, &file).await?;
    if json {
        let body: crate::api::import::SkillMeatImport = report.into();
        println!(
            "{}",
            serde_json::to_string_pretty(&poem_openapi::types::ToJSON::to_json(&body))?
        );
    } else {
        print!("{}", report.summary());
    }
    Ok(())
}

async fn migrate(settings: Settings, action: MigrateAction) -> anyhow::Result<()> {
    let url = settings.database_url();
    if settings.database_kind() == crate::config::DatabaseKind::Sqlite {
        db::preflight_sqlite(&url).await?;
    }
    let conn = db::connect_for_migrations(&url).await?;
    db::ensure_ours(&conn, &url).await?;
    match action {
        MigrateAction::Up => {
            Migrator::up(&conn, None).await?;
            println!("all migrations applied");
        }
        MigrateAction::Down { steps, all } => {
            Migrator::down(&conn, if all { None } else { Some(steps) }).await?;
            println!(
                "rolled back {}",
                if all {
                    "every migration".to_string()
                } else {
                    format!("{steps} migration(s)")
                }
            );
        }
        MigrateAction::Status => {
            for m in Migrator::get_migration_with_status(&conn).await? {
                println!(
                    "{:<8} {}",
                    format!("{:?}", m.status()).to_lowercase(),
                    m.name()
                );
            }
        }
    }
    Ok(())
}
