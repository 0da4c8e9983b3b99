//! The one integration-test binary: a module per resource or concern.

mod artifacts;
mod cache;
mod collections;
mod config;
mod deployments;
mod docs;
mod errors;
mod faults;
mod fuzz;
mod groups;
mod health;
mod helpers;
mod instances;
mod jobs;
mod migrations;
mod smoke;
mod source;
mod ui;
mod watch;
