//! skillmeat-server: organises AI-agent artifacts into collections, serves them from a persistent
//! cache, and documents itself through OpenAPI.

pub mod access_log;
pub mod api;
pub mod atomic;
pub mod authoring;
pub mod cache;
pub mod cli;
pub mod collections;
pub mod config;
pub mod db;
pub mod deploy;
pub mod error;
pub mod events;
pub mod git;
pub mod idle;
pub mod import;
pub mod jobs;
pub mod memo;
pub mod memory;
pub mod own_writes;
pub mod paging;
pub mod scope;
pub mod security;
pub mod skillmeat_lock;
pub mod source;
pub mod startup;
pub mod state;
pub mod synthetic;
pub mod telemetry;
pub mod ui;
pub mod watcher;
