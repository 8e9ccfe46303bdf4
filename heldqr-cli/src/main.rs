//! `heldqr`: the command line for the Heldqr Management API (work in progress).
#![allow(dead_code)]

mod chart;
mod config;
mod error;
mod import_file;
mod output;
mod qr;
mod secret;

fn main() {}
