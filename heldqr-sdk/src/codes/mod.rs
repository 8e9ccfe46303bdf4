//! The codes resource: one file per operation (list, create, get, update, scans). Each
//! request builder is a `Serialize` struct of what goes on the wire, with setters and one
//! async `send()`.

mod create;
mod get;
mod list;
mod scans;
mod update;

pub use create::CreateCode;
pub use get::GetCode;
pub use list::ListCodes;
pub use scans::GetScans;
pub use update::UpdateCode;

use crate::client::Client;

impl Client {
    /// The codes resource: list, create, get, update, scans.
    pub fn codes(&self) -> Codes {
        Codes {
            client: self.clone(),
        }
    }
}

/// Handle on the codes resource, from [`Client::codes`].
#[derive(Debug, Clone)]
pub struct Codes {
    client: Client,
}

impl Codes {
    /// Lists codes, oldest first: one page with [`ListCodes::send`], or every code with
    /// [`ListCodes::into_stream`].
    pub fn list(&self) -> ListCodes {
        ListCodes::new(self.client.clone())
    }

    /// Creates a code pointing at `target_url`. Always sent with an Idempotency-Key (yours
    /// via [`CreateCode::idempotency_key`], or a generated UUIDv4) that every retry reuses.
    pub fn create(&self, target_url: impl Into<String>) -> CreateCode {
        CreateCode::new(self.client.clone(), target_url.into())
    }

    /// Reads one code.
    pub fn get(&self, shortcode: impl Into<String>) -> GetCode {
        GetCode::new(self.client.clone(), shortcode.into())
    }

    /// Changes a code's target, label or status; only the fields set are sent.
    pub fn update(&self, shortcode: impl Into<String>) -> UpdateCode {
        UpdateCode::new(self.client.clone(), shortcode.into())
    }

    /// Reads a code's scans report, shaped by the account's plan.
    pub fn scans(&self, shortcode: impl Into<String>) -> GetScans {
        GetScans::new(self.client.clone(), shortcode.into())
    }
}

#[cfg(test)]
pub(crate) fn test_client() -> Client {
    Client::builder()
        .token("hkr_test")
        .base_url("http://127.0.0.1:1")
        .build()
        .expect("static test configuration is valid")
}
