//! lanchat: peer-to-peer LAN chat for the terminal.
//!
//! Data flows one way: the [`runtime`] owns sockets, the terminal and the clock, feeds
//! datagrams and keys into the sans-IO [`proto::Endpoint`] and the [`app::App`] model, runs
//! the effects they return, and draws with [`ui::draw`] when the model changed.

pub mod app;
pub mod config;
pub mod layout;
pub mod proto;
pub mod rng;
pub mod runtime;
pub mod store;
#[doc(hidden)]
pub mod testkit;
pub mod text;
pub mod ui;
