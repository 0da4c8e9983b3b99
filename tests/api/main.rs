//! The one integration-test binary: a module per resource or concern.

mod artifacts;
mod cache;
mod config;
mod errors;
mod health;
mod helpers;
mod migrations;
mod smoke;
mod source;
