//! lanchat: peer-to-peer LAN chat for the terminal.
//!
//! Data flows one way: the [`runtime`] owns sockets, the terminal and the clock, feeds
//! datagrams and keys into the sans-IO [`proto::Endpoint`] and the [`app::App`] model, runs
//! the effects they return, and draws with [`ui::draw`] when the model changed.
//!
//! Imports point down: [`ui`] draws the [`app`] model; both lay out the screen with
//! [`layout`] and treat peer text by the one policy in [`text`]; [`store`] and [`config`]
//! sit beside them and import neither (`tests/boundaries.rs` holds this).

pub mod app;
pub mod cli;
pub mod config;
pub mod i18n;
pub mod keys;
pub mod layout;
pub mod logfile;
pub mod message;
pub mod proto;
pub mod rng;
pub mod runtime;
pub mod store;
#[doc(hidden)]
pub mod testkit;
pub mod text;
pub mod ui;
