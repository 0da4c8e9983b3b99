//! The one integration-test binary: a module per resource or concern.

mod artifacts;
mod browser;
mod cache;
mod collections;
mod config;
mod deployments;
mod docs;
mod errors;
mod faults;
mod faulty_source;
mod fuzz;
mod groups;
mod hardening;
mod health;
mod helpers;
mod instances;
mod jobs;
mod live;
mod migrations;
mod security;
mod sessions;
mod smoke;
mod source;
mod ui;
mod ui_security;
mod watch;
