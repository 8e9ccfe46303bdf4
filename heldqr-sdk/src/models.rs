//! Typed models for every schema in `openapi.yaml` that a response carries.
//!
//! Models ignore fields they do not know (forward compatible), and the enums the API may grow
//! keep unknown values in an opaque `Unknown`. Every model has a constructor (`Code::new`,
//! `Page::new`, `LifetimeScans::new`...) so an application's unit tests can build the values
//! a fake returns. Timestamps are RFC 3339 (`time::OffsetDateTime`),
//! dates are `YYYY-MM-DD` (`time::Date`). Every model is `Serialize` too, producing the wire
//! shape, so a program can print what it received faithfully.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::enums::string_enum;

time::serde::format_description!(date_format, Date, "[year]-[month]-[day]");

string_enum! {
    /// Whether a code's scan URL redirects.
    ///
    /// ```
    /// use heldqr_sdk::CodeStatus;
    /// assert_eq!(CodeStatus::from("paused"), CodeStatus::Paused);
    /// assert_eq!(CodeStatus::from("archived").as_str(), "archived");
    /// ```
    pub enum CodeStatus {
        /// The scan URL redirects to the target.
        Active => "active",
        /// The scan URL answers 410 and records nothing.
        Paused => "paused",
    }
}

string_enum! {
    /// An account's plan; it decides the shape of the scans report.
    pub enum Plan {
        /// Lifetime totals only.
        Free => "free",
        /// Adds a 30-day window with daily buckets and breakdowns.
        Pro => "pro",
        /// The Pro shape over a 365-day window.
        Business => "business",
    }
}

string_enum! {
    /// Device class of a scan, from its User-Agent.
    pub enum Device {
        /// Phones (`Mobi`, `Android`, `iPhone`).
        Mobile => "mobile",
        /// Tablets (`iPad`, `Tablet`).
        Tablet => "tablet",
        /// Desktop browsers (`Windows`, `Macintosh`, `X11`, `Linux`).
        Desktop => "desktop",
        /// Crawlers and tools (`bot`, `crawler`, `spider`, `curl`).
        Bot => "bot",
        /// Anything else.
        Other => "other",
    }
}

/// A dynamic QR code.
///
/// `scan_url` and `updated_at` are optional: the API documentation's own listing example has
/// neither, so a response may leave them out. Build one for a unit test with [`Code::new`]:
///
/// ```
/// use heldqr_sdk::{Code, CodeStatus};
/// use heldqr_sdk::time::macros::datetime;
///
/// let code = Code::new("menu-v3", "https://example.com/menu", datetime!(2026-05-15 14:21:03 UTC))
///     .with_label("Menu")
///     .with_scan_url("https://hqr.to/r/menu-v3");
/// assert_eq!(code.status, CodeStatus::Active);
/// assert_eq!(code.updated_at, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Code {
    /// Permanent identifier, unique across all accounts.
    pub shortcode: String,
    /// Where the scan URL currently redirects.
    pub target_url: String,
    /// Free text for people; `None` when unset.
    #[serde(default)]
    pub label: Option<String>,
    /// Whether the scan URL redirects.
    pub status: CodeStatus,
    /// The URL a printed QR encodes; it records a scan and redirects to `target_url`.
    /// `None` when the response did not include it: fetch the code with
    /// [`crate::Codes::get`] before drawing a QR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_url: Option<String>,
    /// Creation time (UTC, whole seconds).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change (UTC, whole seconds); `None` when the response did not include it.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_at: Option<OffsetDateTime>,
}

impl Code {
    /// An active code with no label, scan URL or update time (add them with the `with_*`
    /// setters), for tests and fakes.
    pub fn new(
        shortcode: impl Into<String>,
        target_url: impl Into<String>,
        created_at: OffsetDateTime,
    ) -> Self {
        Self {
            shortcode: shortcode.into(),
            target_url: target_url.into(),
            label: None,
            status: CodeStatus::Active,
            scan_url: None,
            created_at,
            updated_at: None,
        }
    }

    /// Sets `label`.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Sets `status`.
    pub fn with_status(mut self, status: CodeStatus) -> Self {
        self.status = status;
        self
    }

    /// Sets `scan_url`.
    pub fn with_scan_url(mut self, scan_url: impl Into<String>) -> Self {
        self.scan_url = Some(scan_url.into());
        self
    }

    /// Sets `updated_at`.
    pub fn with_updated_at(mut self, updated_at: OffsetDateTime) -> Self {
        self.updated_at = Some(updated_at);
        self
    }
}

/// Position of a page in a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Pagination {
    /// This page's number, from 1.
    pub page: u32,
    /// Items per page (1-100).
    pub page_size: u32,
    /// Items across all pages.
    pub total: u64,
    /// `ceil(total / page_size)`; 0 when there are no items.
    pub total_pages: u32,
}

/// One page of a listing. Serializes as the wire shape `{"data": [...], "pagination": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Page<T> {
    /// The items on this page (the wire field `data`).
    #[serde(rename = "data")]
    pub items: Vec<T>,
    /// Where this page sits.
    pub pagination: Pagination,
}

impl Pagination {
    /// The position of page `page` (from 1) of `page_size` items in a listing of `total`
    /// items; `total_pages` is computed.
    pub fn new(page: u32, page_size: u32, total: u64) -> Self {
        let total_pages = if page_size == 0 {
            0
        } else {
            u32::try_from(total.div_ceil(u64::from(page_size))).unwrap_or(u32::MAX)
        };
        Self {
            page,
            page_size,
            total,
            total_pages,
        }
    }
}

impl<T> Page<T> {
    /// A page of `items` at `pagination`, for tests and fakes.
    ///
    /// ```
    /// use heldqr_sdk::{Page, Pagination};
    /// let page: Page<u32> = Page::new(vec![1, 2], Pagination::new(1, 2, 3));
    /// assert!(page.has_next());
    /// assert_eq!(page.pagination.total_pages, 2);
    /// ```
    pub fn new(items: Vec<T>, pagination: Pagination) -> Self {
        Self { items, pagination }
    }

    /// Whether a later page may hold more items.
    pub fn has_next(&self) -> bool {
        !self.items.is_empty() && self.pagination.page < self.pagination.total_pages
    }
}

/// The `free` plan's scans report: lifetime totals only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LifetimeScans {
    /// The code.
    pub shortcode: String,
    /// Scans since the code was created.
    pub total_scans: u64,
    /// First scan ever, if any.
    #[serde(with = "time::serde::rfc3339::option")]
    pub first_scan_at: Option<OffsetDateTime>,
    /// Latest scan, if any.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_scan_at: Option<OffsetDateTime>,
}

impl LifetimeScans {
    /// A report of no scans for `shortcode` (set figures with the `with_*` setters).
    pub fn new(shortcode: impl Into<String>) -> Self {
        Self {
            shortcode: shortcode.into(),
            total_scans: 0,
            first_scan_at: None,
            last_scan_at: None,
        }
    }

    /// Sets `total_scans`.
    pub fn with_total_scans(mut self, total_scans: u64) -> Self {
        self.total_scans = total_scans;
        self
    }

    /// Sets `first_scan_at` and `last_scan_at`.
    pub fn with_scan_times(mut self, first: OffsetDateTime, last: OffsetDateTime) -> Self {
        self.first_scan_at = Some(first);
        self.last_scan_at = Some(last);
        self
    }
}

/// The `pro` and `business` plans' scans report: lifetime totals plus a window of daily
/// buckets with country and device breakdowns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WindowedScans {
    /// The code.
    pub shortcode: String,
    /// Scans since the code was created.
    pub total_scans: u64,
    /// First scan ever, if any.
    #[serde(with = "time::serde::rfc3339::option")]
    pub first_scan_at: Option<OffsetDateTime>,
    /// Latest scan, if any.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_scan_at: Option<OffsetDateTime>,
    /// The days covered (30 on `pro`, 365 on `business`).
    pub window: ScanWindow,
    /// Scans inside the window.
    pub window_scans: u64,
    /// One bucket per day of the window, oldest first, zero-filled.
    pub daily: Vec<DailyScans>,
    /// Scans per country over the window, most first (only countries with scans).
    pub countries: Vec<CountryScans>,
    /// Scans per device class over the window, most first (only devices with scans).
    pub devices: Vec<DeviceScans>,
}

impl WindowedScans {
    /// A report of no scans for `shortcode` over `window`, with one zero bucket per day of
    /// the window (set figures with the `with_*` setters or the public fields).
    pub fn new(shortcode: impl Into<String>, window: ScanWindow) -> Self {
        let mut daily = Vec::new();
        let mut day = Some(window.start_date);
        while let Some(date) = day.filter(|d| *d <= window.end_date) {
            daily.push(DailyScans { date, scans: 0 });
            day = date.next_day();
        }
        Self {
            shortcode: shortcode.into(),
            total_scans: 0,
            first_scan_at: None,
            last_scan_at: None,
            window,
            window_scans: 0,
            daily,
            countries: Vec::new(),
            devices: Vec::new(),
        }
    }

    /// Sets `total_scans` and `window_scans`.
    pub fn with_scans(mut self, total_scans: u64, window_scans: u64) -> Self {
        self.total_scans = total_scans;
        self.window_scans = window_scans;
        self
    }

    /// Adds a country to the breakdown.
    pub fn with_country(mut self, country: impl Into<String>, scans: u64) -> Self {
        self.countries.push(CountryScans {
            country: country.into(),
            scans,
        });
        self
    }

    /// Adds a device class to the breakdown.
    pub fn with_device(mut self, device: Device, scans: u64) -> Self {
        self.devices.push(DeviceScans { device, scans });
        self
    }
}

/// The days a windowed report covers, both ends included, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ScanWindow {
    /// First day of the window.
    #[serde(with = "date_format")]
    pub start_date: Date,
    /// Last day of the window (the server's current day).
    #[serde(with = "date_format")]
    pub end_date: Date,
    /// Number of days covered.
    pub days: u32,
}

impl ScanWindow {
    /// The window from `start_date` to `end_date`, both included (`days` is computed; an
    /// end before the start gives 0 days).
    pub fn new(start_date: Date, end_date: Date) -> Self {
        let days = (end_date - start_date).whole_days() + 1;
        Self {
            start_date,
            end_date,
            days: u32::try_from(days.max(0)).unwrap_or(u32::MAX),
        }
    }
}

/// Scans on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DailyScans {
    /// The day (UTC).
    #[serde(with = "date_format")]
    pub date: Date,
    /// Scans recorded that day.
    pub scans: u64,
}

/// Scans from one country.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CountryScans {
    /// ISO 3166-1 alpha-2, uppercase; `XX` when unknown.
    pub country: String,
    /// Scans from that country.
    pub scans: u64,
}

/// Scans from one device class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeviceScans {
    /// The device class.
    pub device: Device,
    /// Scans from that class.
    pub scans: u64,
}

/// A code's scans report, shaped by the plan of the account that asks.
///
/// Match on it instead of probing options:
///
/// ```
/// use heldqr_sdk::ScanReport;
///
/// fn describe(report: &ScanReport) -> String {
///     match report {
///         ScanReport::Free(r) => format!("{} scans in total", r.total_scans),
///         ScanReport::Pro(r) | ScanReport::Business(r) => {
///             format!("{} scans in the last {} days", r.window_scans, r.window.days)
///         }
///         ScanReport::Unknown(other) => format!("a report for plan {}", other.plan()),
///         _ => String::from("a report this SDK version does not know"),
///     }
/// }
/// ```
///
/// Serde reads the `plan` field to pick the variant; an unknown plan keeps the whole object
/// in [`ScanReport::Unknown`] (opaque: read it with [`UnknownReport::plan`] and
/// [`UnknownReport::raw`]). Serializing writes the wire shape back, `plan` included.
///
/// For a unit test, build the variant you need:
///
/// ```
/// use heldqr_sdk::{LifetimeScans, ScanReport};
/// let report = ScanReport::Free(LifetimeScans::new("menu-v3").with_total_scans(42));
/// assert_eq!(report.total_scans(), 42);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ScanReport {
    /// `plan: free`: lifetime totals only.
    Free(LifetimeScans),
    /// `plan: pro`: a 30-day window.
    Pro(WindowedScans),
    /// `plan: business`: a 365-day window.
    Business(WindowedScans),
    /// A plan this SDK version does not know, kept whole.
    Unknown(UnknownReport),
}

/// A scans report for a plan this SDK version does not know: its `plan` and the whole object.
/// Opaque (no public constructor), so code cannot match a plan added later by name.
#[derive(Debug, Clone, PartialEq)]
pub struct UnknownReport {
    plan: String,
    raw: serde_json::Value,
}

impl UnknownReport {
    /// The `plan` value the server sent.
    pub fn plan(&self) -> &str {
        &self.plan
    }

    /// The report object as received.
    pub fn raw(&self) -> &serde_json::Value {
        &self.raw
    }
}

impl ScanReport {
    /// The plan this report was shaped for.
    pub fn plan(&self) -> Plan {
        match self {
            Self::Free(_) => Plan::Free,
            Self::Pro(_) => Plan::Pro,
            Self::Business(_) => Plan::Business,
            Self::Unknown(other) => Plan::from(other.plan()),
        }
    }

    /// Lifetime scans (for an unknown plan, its `total_scans` if it has one, else 0).
    pub fn total_scans(&self) -> u64 {
        match self {
            Self::Free(r) => r.total_scans,
            Self::Pro(r) | Self::Business(r) => r.total_scans,
            Self::Unknown(other) => other
                .raw
                .get("total_scans")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0),
        }
    }

    /// The code this report is about (for an unknown plan, its `shortcode` if it has one).
    pub fn shortcode(&self) -> &str {
        match self {
            Self::Free(r) => &r.shortcode,
            Self::Pro(r) | Self::Business(r) => &r.shortcode,
            Self::Unknown(other) => other
                .raw
                .get("shortcode")
                .and_then(serde_json::Value::as_str)
                .unwrap_or(""),
        }
    }

    /// The windowed part of a `pro` or `business` report.
    pub fn windowed(&self) -> Option<&WindowedScans> {
        match self {
            Self::Pro(r) | Self::Business(r) => Some(r),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for ScanReport {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let raw = serde_json::Value::deserialize(deserializer)?;
        let plan = match raw.get("plan") {
            Some(serde_json::Value::String(plan)) => plan.clone(),
            Some(_) => {
                return Err(D::Error::custom(
                    "scans report field `plan` is not a string",
                ));
            }
            None => return Err(D::Error::missing_field("plan")),
        };
        match Plan::from(plan.as_str()) {
            Plan::Free => LifetimeScans::deserialize(raw)
                .map(Self::Free)
                .map_err(D::Error::custom),
            Plan::Pro => WindowedScans::deserialize(raw)
                .map(Self::Pro)
                .map_err(D::Error::custom),
            Plan::Business => WindowedScans::deserialize(raw)
                .map(Self::Business)
                .map_err(D::Error::custom),
            Plan::Unknown(_) => Ok(Self::Unknown(UnknownReport { plan, raw })),
        }
    }
}

impl Serialize for ScanReport {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error as _;
        let with_plan = |value: Result<serde_json::Value, serde_json::Error>, plan: &str| {
            let mut value = value.map_err(S::Error::custom)?;
            if let serde_json::Value::Object(map) = &mut value {
                map.insert("plan".into(), serde_json::Value::String(plan.into()));
            }
            Ok::<_, S::Error>(value)
        };
        let value = match self {
            Self::Free(r) => with_plan(serde_json::to_value(r), "free")?,
            Self::Pro(r) => with_plan(serde_json::to_value(r), "pro")?,
            Self::Business(r) => with_plan(serde_json::to_value(r), "business")?,
            Self::Unknown(other) => other.raw.clone(),
        };
        value.serialize(serializer)
    }
}

/// The `{"data": ...}` envelope of every successful response.
#[derive(Debug, Deserialize)]
pub(crate) struct DataEnvelope<T> {
    pub(crate) data: T,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_enum_values_round_trip() {
        let status: CodeStatus = serde_json::from_value(json!("archived")).unwrap();
        assert!(matches!(&status, CodeStatus::Unknown(v) if v.as_str() == "archived"));
        assert_eq!(serde_json::to_value(&status).unwrap(), json!("archived"));
        let device: Device = serde_json::from_value(json!("watch")).unwrap();
        assert_eq!(device.to_string(), "watch");
        for plan in Plan::known() {
            let back: Plan = serde_json::from_value(serde_json::to_value(plan).unwrap()).unwrap();
            assert_eq!(&back, plan);
        }
    }

    #[test]
    fn scan_report_unknown_plan_keeps_the_object() {
        let raw = json!({"plan": "enterprise", "shortcode": "abc", "total_scans": 7, "heat": []});
        let report: ScanReport = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(report.plan().as_str(), "enterprise");
        assert!(matches!(&report, ScanReport::Unknown(r) if r.plan() == "enterprise"));
        assert_eq!(report.total_scans(), 7);
        assert_eq!(report.shortcode(), "abc");
        assert_eq!(serde_json::to_value(&report).unwrap(), raw);
    }

    #[test]
    fn scan_report_serializes_back_to_the_wire_shape() {
        let raw = json!({"plan": "free", "shortcode": "abc", "total_scans": 0,
            "first_scan_at": null, "last_scan_at": null});
        let report: ScanReport = serde_json::from_value(raw.clone()).unwrap();
        assert!(matches!(report, ScanReport::Free(_)));
        assert_eq!(serde_json::to_value(&report).unwrap(), raw);
    }

    #[test]
    fn scan_report_without_plan_is_an_error() {
        assert!(serde_json::from_value::<ScanReport>(json!({"shortcode": "abc"})).is_err());
        assert!(serde_json::from_value::<ScanReport>(json!({"plan": 3})).is_err());
    }

    #[test]
    fn code_ignores_unknown_fields_and_round_trips() {
        let raw = json!({"shortcode": "menu-v3", "target_url": "https://example.com/menu",
            "label": null, "status": "active", "scan_url": "https://hqr.to/r/menu-v3",
            "created_at": "2026-05-15T14:21:03Z", "updated_at": "2026-05-15T14:21:03Z"});
        let mut extended = raw.clone();
        extended["folder"] = json!("menus");
        let code: Code = serde_json::from_value(extended).unwrap();
        assert_eq!(code.label, None);
        assert_eq!(serde_json::to_value(&code).unwrap(), raw);
    }

    #[test]
    fn code_without_scan_url_or_updated_at_decodes() {
        let raw = json!({"shortcode": "menu-v3", "target_url": "https://example.com/menu",
            "status": "active", "created_at": "2026-05-15T14:21:03Z"});
        let code: Code = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(code.scan_url, None);
        assert_eq!(code.label, None);
        assert_eq!(code.updated_at, None);
        // Serialized back, the absent fields stay absent (label is always written).
        let mut back = raw;
        back["label"] = serde_json::Value::Null;
        assert_eq!(serde_json::to_value(&code).unwrap(), back);
        let with_null = json!({"shortcode": "a", "target_url": "https://example.com",
            "status": "paused", "created_at": "2026-05-15T14:21:03Z", "updated_at": null});
        let code: Code = serde_json::from_value(with_null).unwrap();
        assert_eq!(code.updated_at, None);
        // What the API does require is still required.
        for missing in ["shortcode", "target_url", "status", "created_at"] {
            let mut raw = json!({"shortcode": "a", "target_url": "https://example.com",
                "status": "active", "created_at": "2026-05-15T14:21:03Z"});
            raw.as_object_mut().unwrap().remove(missing);
            assert!(serde_json::from_value::<Code>(raw).is_err(), "{missing}");
        }
    }

    #[test]
    fn constructors_build_what_the_wire_would() {
        let created = time::macros::datetime!(2026-05-15 14:21:03 UTC);
        let built = Code::new("menu-v3", "https://example.com/menu", created)
            .with_scan_url("https://hqr.to/r/menu-v3")
            .with_updated_at(created)
            .with_status(CodeStatus::Paused);
        let decoded: Code = serde_json::from_value(json!({"shortcode": "menu-v3",
            "target_url": "https://example.com/menu", "label": null, "status": "paused",
            "scan_url": "https://hqr.to/r/menu-v3", "created_at": "2026-05-15T14:21:03Z",
            "updated_at": "2026-05-15T14:21:03Z"}))
        .unwrap();
        assert_eq!(built, decoded);

        let window = ScanWindow::new(
            time::macros::date!(2026 - 04 - 16),
            time::macros::date!(2026 - 05 - 15),
        );
        assert_eq!(window.days, 30);
        let report = WindowedScans::new("menu-v3", window)
            .with_scans(9, 5)
            .with_country("DE", 5)
            .with_device(Device::Mobile, 5);
        assert_eq!(report.daily.len(), 30);
        assert_eq!(report.daily[29].date, window.end_date);
        let report = ScanReport::Pro(report);
        let back: ScanReport =
            serde_json::from_value(serde_json::to_value(&report).unwrap()).unwrap();
        assert_eq!(back, report);

        let pagination = Pagination::new(1, 50, 101);
        assert_eq!(pagination.total_pages, 3);
        assert_eq!(Pagination::new(1, 50, 0).total_pages, 0);
    }

    #[test]
    fn page_uses_the_wire_field_names() {
        let raw = json!({"data": [], "pagination": {"page": 2, "page_size": 10, "total": 3, "total_pages": 1}});
        let page: Page<Code> = serde_json::from_value(raw.clone()).unwrap();
        assert!(!page.has_next());
        assert_eq!(serde_json::to_value(&page).unwrap(), raw);
    }
}
