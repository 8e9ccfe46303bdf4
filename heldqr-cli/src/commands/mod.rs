//! The commands: one module per command, each with its clap arguments and a `run` that calls the
//! SDK and prints through [`Ui`], given the [`Ctx`] that `main` resolved once.

pub mod api;
pub mod auth;
pub mod codes;
pub mod completions;

use crate::output::Ui;
use crate::settings::Settings;

/// What a command runs with: how to print, and the resolved settings.
#[derive(Debug)]
pub struct Ctx {
    /// Output decisions.
    pub ui: Ui,
    /// Host, token, config file.
    pub settings: Settings,
}
