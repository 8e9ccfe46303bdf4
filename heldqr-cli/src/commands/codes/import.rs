//! `heldqr codes import FILE.csv`: bulk create, exactly once.
//!
//! The file is read and checked whole first ([`crate::import_file`], which also derives each
//! row's identity and idempotency key). Rows the import ledger of this host and account
//! ([`crate::ledger`]) has seen finished are skipped without a request and listed with their
//! shortcodes; the others are created one at a time with the SDK pacing requests to the rate
//! limit, and each outcome is written to the ledger as soon as it is known. A row the API
//! rejects (validation, taken shortcode...) is recorded as failed and the import goes on; a
//! failure that would hit every remaining row (bad token, network, rate limit or server errors
//! after retries) stops it. Ctrl-C finishes the row in flight and stops (a second Ctrl-C stops
//! at once); a row whose request has not gone out yet (it waits for the rate limit) stops at
//! once. Either way the summary says what was done, and running the same command again
//! (from any path, a copy, a day later) sends only the rows not done.
//!
//! stderr gets a progress bar on a terminal, else one line per row; stdout gets the per-row
//! results (a table, tab-separated lines, or one JSON array with `--json`).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use heldqr_sdk::{Code, Error as SdkError};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::commands::Ctx;
use crate::error::CliError;
use crate::import_file::{self, ImportRow};
use crate::ledger::{self, Ledger};
use crate::output::{OutputMode, Tone, Value, one_line};

/// The longest an import waits for the rate limit in one go (a window of the production API is
/// 60 s); a longer wait stops the import with exit 7 and the usual re-run advice.
const IMPORT_MAX_WAIT: Duration = Duration::from_secs(15 * 60);

/// The longest one row may take, its retries and every wait included: one full wait for the
/// rate limit and then some. Past it the row fails as timed out (and the import stops, to be
/// re-run).
const ROW_DEADLINE: Duration = Duration::from_secs(20 * 60);

/// Arguments of `codes import`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  heldqr codes import codes.csv
  heldqr codes import codes.csv --json > results.json
  heldqr codes import codes.csv --dry-run
  heldqr codes import - < codes.csv      # standard input: a pipe from another command too

The file starts with a header row; target_url is required, label and shortcode optional:
  target_url,label,shortcode
  https://example.com/menu,Restaurant menu,menu-v3
  https://example.com/wifi,,

Exactly once: each row's outcome (the shortcode it produced) is kept in a local import ledger
per host and account (in the platform's state directory, or HELDQR_STATE_DIR). Running the
file again, after a failure, Ctrl-C or a crash, a day later, moved, renamed or copied, skips
the rows already created without a request (listed with their shortcodes and creation times)
and sends only the rest. A row's identity is its content (and how many identical rows come
before it), not the file's name: a different file with a row identical to one imported before
skips that row too, and says so. An edited row is a new row: it is created, and the code of
its old version stays (to change a code, use `heldqr codes update`). --new-batch (or
--batch-id ID) starts a deliberate new batch whose rows are all created again; re-run it with
the --batch-id it prints (a plain run of the file after a batch warns that it is outside it,
and names the batch).
Each row's idempotency key is derived from its identity, so for 24 hours the API also replays a
row whose outcome the ledger never saw (a crash mid-request). Requests are paced to the rate
limit: a file longer than the limit waits for the window to slide instead of failing.")]
pub struct ImportArgs {
    /// The CSV file (`-` reads it from standard input).
    pub file: PathBuf,

    /// Import the rows as batch ID: rows already imported outside this batch are created
    /// again; re-running with the same ID stays exactly-once.
    #[arg(long, value_name = "ID", conflicts_with = "new_batch")]
    pub batch_id: Option<String>,

    /// Start a deliberate new batch (a generated --batch-id, printed on stderr): every row is
    /// created again, even if imported before.
    #[arg(long)]
    pub new_batch: bool,

    /// Check the file and show each row's plan (send, skip, or fails: no target_url, a
    /// shortcode another row has) and idempotency key; send nothing. Exits 2 if a row fails.
    #[arg(long)]
    pub dry_run: bool,
}

/// What happened to one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Outcome {
    /// A new code.
    Created,
    /// The ledger says an earlier run created it: not sent.
    Skipped,
    /// The row's key had already created its code: in an earlier run, or in an earlier
    /// attempt of this one whose answer was lost. Either way it exists once.
    Replayed,
    /// The API rejected the row.
    Failed,
    /// The import stopped before this row; a re-run will send it.
    NotAttempted,
    /// Sent, with no answer saying whether it was created (interrupted in flight, or the
    /// import stopped on an error that may have come after it went through): a re-run settles
    /// it without a duplicate.
    Unknown,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Skipped => "skipped",
            Outcome::Replayed => "replayed",
            Outcome::Failed => "failed",
            Outcome::NotAttempted => "not_attempted",
            Outcome::Unknown => "unknown",
        }
    }

    fn tone(self) -> Tone {
        match self {
            Outcome::Created => Tone::Good,
            Outcome::Replayed | Outcome::Skipped => Tone::Plain,
            Outcome::Failed | Outcome::Unknown => Tone::Warn,
            Outcome::NotAttempted => Tone::Dim,
        }
    }
}

/// The error of a failed row, as `--json` shows it.
#[derive(Debug, Clone, Serialize)]
struct RowError {
    code: String,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    field_errors: std::collections::BTreeMap<String, Vec<String>>,
}

/// One row's result (an element of the `--json` array).
#[derive(Debug, Clone, Serialize)]
struct RowResult {
    row: usize,
    line: u64,
    result: Outcome,
    idempotency_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    attempts: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<Code>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<RowError>,
    /// For a skipped row: what the ledger recorded when it was imported.
    #[serde(skip_serializing_if = "Option::is_none")]
    already_imported: Option<ledger::Entry>,
}

/// A dry-run row (`--dry-run --json`).
#[derive(Debug, Serialize)]
struct PlannedRow<'a> {
    row: usize,
    line: u64,
    target_url: &'a str,
    label: Option<&'a str>,
    shortcode: Option<&'a str>,
    idempotency_key: &'a str,
    /// `send`, `skip` (already imported) or `fails` (see `problem`).
    plan: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    already_imported: Option<&'a ledger::Entry>,
    /// Why the row cannot succeed, as far as the file alone tells.
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
}

/// Why the loop ended early.
enum Stop {
    /// Ctrl-C.
    Interrupted,
    /// An error that would fail every remaining row.
    Fatal(SdkError),
    /// The ledger cannot be written: going on would lose what makes a re-run safe.
    Ledger(CliError),
}

/// Runs `codes import`.
pub async fn run(args: ImportArgs, ctx: &Ctx) -> Result<(), CliError> {
    let batch_id = match &args.batch_id {
        Some(id) if id.trim().is_empty() => {
            return Err(CliError::Usage("--batch-id is empty".into()));
        }
        Some(id) => Some(id.clone()),
        None if args.new_batch => Some(new_batch_id()),
        None => None,
    };
    let rows = import_file::read(&args.file, batch_id.as_deref())?;
    // What the messages call the file (its path), and the ledger (its name).
    let (shown, file_name) = if args.file.as_os_str() == "-" {
        ("standard input".to_string(), "standard input".to_string())
    } else {
        let name = args
            .file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        (args.file.display().to_string(), name.unwrap_or_default())
    };
    if args.dry_run {
        // The ledger needs the account (the token); without one the plan shows no skips.
        let ledger = match &ctx.settings.token {
            Some((token, _)) => Some(open_ledger(ctx, token)?),
            None => None,
        };
        if let (None, Some(ledger)) = (&batch_id, &ledger) {
            warn_rows_of_batches(ctx, &rows, ledger);
        }
        return print_plan(ctx, &rows, ledger.as_ref());
    }
    if let (true, Some(id)) = (args.new_batch, &batch_id) {
        ctx.ui.info(&format!(
            "New batch {id}: every row is created again. To resume it after a stop: --batch-id {id}"
        ));
    }
    let mut ledger = open_ledger(ctx, ctx.settings.require_token()?)?;
    if rows.is_empty() {
        ctx.ui.info(&format!(
            "{} has no rows after the header: nothing to import.",
            shown
        ));
        return if ctx.ui.mode == OutputMode::Json {
            ctx.ui.json(&Vec::<RowResult>::new())
        } else {
            Ok(())
        };
    }
    // The same client as every command (paced to the rate limit); each row's request says how
    // long it may wait (see `create`).
    let client = ctx.settings.client()?;

    let progress = Progress::new(ctx, rows.len());
    if batch_id.is_none() {
        warn_rows_of_batches(ctx, &rows, &ledger);
    }
    progress.start(&format!(
        "Importing {} from {}",
        row_count(rows.len()),
        shown
    ));
    let started = Instant::now();
    let mut results: Vec<RowResult> = Vec::with_capacity(rows.len());
    let mut stop = None;
    // One listener for the whole import: a Ctrl-C between two rows waits in it until the loop
    // looks, instead of arriving while nothing listens.
    let mut interrupts = Interrupts::listen();
    for row in &rows {
        if let Some(entry) = ledger.get(&row.row_id) {
            let skipped = RowResult {
                already_imported: Some(entry.clone()),
                ..result(row, Outcome::Skipped, None, None, None)
            };
            progress.row_done(&skipped);
            results.push(skipped);
            continue;
        }
        if stop.is_none() && interrupts.try_recv() {
            stop = Some(Stop::Interrupted);
            progress.note(&format!("Ctrl-C: stopping before row {}", row.row));
        }
        if stop.is_some() {
            results.push(result(row, Outcome::NotAttempted, None, None, None));
            continue;
        }
        let call = Arc::new(RowCall::default());
        let send = create(&client, row, Arc::clone(&call));
        tokio::pin!(send);
        let mut ticker = tokio::time::interval(Duration::from_millis(500));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut interrupted = false;
        let outcome = loop {
            tokio::select! {
                outcome = &mut send => break outcome.map_err(Unanswered::Failed),
                _ = ticker.tick() => progress.rate_limit_wait(client.last_rate_limit()),
                () = interrupts.recv() => {
                    stop = Some(Stop::Interrupted);
                    if !call.sent.load(Ordering::Relaxed) {
                        // Still waiting for the rate limit: nothing went out, so stop now.
                        progress.note(&format!("Ctrl-C: stopping before row {}", row.row));
                        break Err(Unanswered::NotSent);
                    }
                    if interrupted {
                        break Err(Unanswered::Interrupted);
                    }
                    interrupted = true;
                    progress.note(&format!(
                        "Ctrl-C: finishing row {} then stopping (Ctrl-C again to stop now)",
                        row.row
                    ));
                }
            }
        };
        let row_result = match outcome {
            Ok((code, replayed, attempts)) => {
                let outcome = if replayed {
                    Outcome::Replayed
                } else {
                    Outcome::Created
                };
                let recorded = ledger.record(ledger::Entry {
                    row_id: row.row_id.clone(),
                    shortcode: code.shortcode.clone(),
                    created_at: super::rfc3339(code.created_at),
                    file: file_name.clone(),
                    content_id: batch_id.as_ref().map(|_| row.content_id.clone()),
                    batch: batch_id.clone(),
                });
                if let Err(err) = recorded {
                    stop.get_or_insert(Stop::Ledger(err));
                }
                result(row, outcome, Some(attempts), Some(code), None)
            }
            Err(Unanswered::NotSent) => result(row, Outcome::NotAttempted, None, None, None),
            Err(Unanswered::Interrupted) => result(row, Outcome::Unknown, None, None, None),
            Err(Unanswered::Failed(err)) => {
                let attempts = Some(err.attempts()).filter(|&n| n > 0);
                let row_result =
                    result(row, Outcome::Failed, attempts, None, Some(row_error(&err)));
                if stops_the_import(&err) {
                    // The row itself is fine as far as anyone knows: a re-run sends it again,
                    // and settles whether an attempt that went out created it: the last, or
                    // one before it that was retried after an error that leaves it possible.
                    let may_exist = call.sent.load(Ordering::Relaxed)
                        && (crate::error::may_have_reached_the_server(&err)
                            || call.retried_maybe_processed.load(Ordering::Relaxed));
                    let result = if may_exist {
                        Outcome::Unknown
                    } else {
                        Outcome::NotAttempted
                    };
                    stop.get_or_insert(Stop::Fatal(err));
                    RowResult {
                        result,
                        ..row_result
                    }
                } else {
                    row_result
                }
            }
        };
        progress.row_done(&row_result);
        results.push(row_result);
    }
    progress.finish();

    let summary = Summary::of(&results, started.elapsed());
    print_results(ctx, &results)?;
    ctx.ui.info(&summary.line(&shown));
    if summary.skipped > 0 {
        let (them, their) = if summary.skipped == 1 {
            ("it", "its shortcode")
        } else {
            ("them", "their shortcodes")
        };
        ctx.ui.info(&format!(
            "{} skipped without a request: the import ledger ({}) has {them} as created before, from this file, a copy of it or another file with the same row (listed above with {their}). To create {them} again: --new-batch.",
            rows_label(&summary.skipped_rows),
            ledger.path().display()
        ));
    }
    let resume = match &batch_id {
        Some(id) => format!("run it again with --batch-id {id}"),
        None => "run the same command again".to_string(),
    };
    match stop {
        Some(Stop::Interrupted) => {
            ctx.ui.hint(&format!(
                "{resume} to finish: rows already created are skipped, only the rest is sent"
            ));
            Err(CliError::Interrupted)
        }
        Some(Stop::Fatal(err)) => {
            ctx.ui
                .info("Stopped: the error below would fail every remaining row.");
            ctx.ui.hint(&format!(
                "fix it and {resume}: rows already created are skipped, not duplicated"
            ));
            Err(CliError::Sdk(err))
        }
        Some(Stop::Ledger(err)) => {
            ctx.ui.info(
                "Stopped: the import ledger cannot be written, so a later run could not tell what this one created.",
            );
            Err(err)
        }
        None if summary.failed.is_empty() => Ok(()),
        None => Err(CliError::ImportRowsFailed {
            failed: summary.failed.len(),
            total: results.len(),
            rows: rows_label(&summary.failed),
        }),
    }
}

/// Ctrl-C (SIGINT on unix), listened for from [`Interrupts::listen`] on: presses are kept until
/// read, so none is lost between two rows. If the listener cannot be set up, Ctrl-C keeps its
/// default effect (the process ends at once; a re-run is still safe) and this never fires.
struct Interrupts {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
    #[cfg(windows)]
    signal: Option<tokio::signal::windows::CtrlC>,
}

impl Interrupts {
    fn listen() -> Self {
        #[cfg(unix)]
        let signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
        #[cfg(windows)]
        let signal = tokio::signal::windows::ctrl_c().ok();
        #[cfg(any(unix, windows))]
        return Interrupts { signal };
        #[cfg(not(any(unix, windows)))]
        return Interrupts {};
    }

    /// Waits for the next Ctrl-C (forever when there is no listener). Cancel-safe: a press
    /// that arrives while this is not being polled is returned by the next call.
    async fn recv(&mut self) {
        #[cfg(any(unix, windows))]
        if let Some(signal) = &mut self.signal
            && signal.recv().await.is_some()
        {
            return;
        }
        std::future::pending::<()>().await
    }

    /// Whether a Ctrl-C has arrived since the last look, without waiting.
    fn try_recv(&mut self) -> bool {
        futures_util::FutureExt::now_or_never(self.recv()).is_some()
    }
}

/// Why a row sent for creation has no code.
enum Unanswered {
    /// The SDK's error.
    Failed(SdkError),
    /// Ctrl-C while the row waited for the rate limit: nothing was sent.
    NotSent,
    /// A second Ctrl-C while an attempt was in flight.
    Interrupted,
}

/// What a row's call tells as it goes.
#[derive(Default)]
struct RowCall {
    /// An attempt went out. Until then the row is only waiting (for the rate limit), and
    /// Ctrl-C can stop it at once with nothing sent.
    sent: AtomicBool,
    /// An attempt that was retried failed in a way that leaves the create possible (a
    /// timeout, a lost connection, a 5xx), as opposed to a 429 or a refused connection.
    retried_maybe_processed: AtomicBool,
}

/// Creates one row's code: `(code, replayed, attempts)`, or the SDK error; `call` hears of
/// each attempt as it goes and of each one retried.
async fn create(
    client: &heldqr_sdk::Client,
    row: &ImportRow,
    call: Arc<RowCall>,
) -> Result<(Code, bool, u32), SdkError> {
    // Let both the pacer and a 429's Retry-After wait as long as a window takes: the SDK's
    // default (30 s) would stop an import of more rows than the limit at the first full 60 s
    // window. The rest of the client's policy (retries, backoff) stays.
    let policy = client
        .retry_policy()
        .clone()
        .max_retry_after(IMPORT_MAX_WAIT);
    let mut request = client
        .codes()
        .create(row.target_url.as_str())
        .idempotency_key(row.idempotency_key.as_str())
        .retry_policy(policy)
        .deadline(ROW_DEADLINE)
        .on_send({
            let call = Arc::clone(&call);
            move |_| call.sent.store(true, Ordering::Relaxed)
        })
        .on_retry(move |_, err, _| {
            if crate::error::may_have_reached_the_server(err) {
                call.retried_maybe_processed.store(true, Ordering::Relaxed);
            }
        });
    if let Some(label) = &row.label {
        request = request.label(label.as_str());
    }
    if let Some(shortcode) = &row.shortcode {
        request = request.shortcode(shortcode.as_str());
    }
    let (code, meta) = request.send().await?.into_parts();
    Ok((code, meta.idempotent_replay, meta.attempts))
}

/// Errors about the request as a whole rather than this row's content.
fn stops_the_import(err: &SdkError) -> bool {
    match err {
        SdkError::Api(api) => matches!(api.status, 401 | 429) || api.status >= 500,
        SdkError::Http(http) => matches!(http.status, 401 | 429) || http.status >= 500,
        _ => true,
    }
}

fn row_error(err: &SdkError) -> RowError {
    let described = crate::error::describe_sdk_error(err);
    RowError {
        code: described.code,
        message: described.message,
        status: err.status(),
        field_errors: err
            .api()
            .map(|a| a.field_errors.clone())
            .unwrap_or_default(),
    }
}

fn result(
    row: &ImportRow,
    outcome: Outcome,
    attempts: Option<u32>,
    code: Option<Code>,
    error: Option<RowError>,
) -> RowResult {
    RowResult {
        row: row.row,
        line: row.line,
        result: outcome,
        idempotency_key: row.idempotency_key.clone(),
        attempts,
        code,
        error,
        already_imported: None,
    }
}

/// The ledger of this run's host and account.
fn open_ledger(ctx: &Ctx, token: &crate::secret::Token) -> Result<Ledger, CliError> {
    let state_dir = ledger::state_dir(ctx.settings.state_dir_override.as_deref())?;
    let ledger = Ledger::open(ledger::path_for(&state_dir, &ctx.settings.base_url, token))?;
    tracing::debug!(ledger = %ledger.path().display(), "import ledger");
    if ledger.unreadable_lines > 0 {
        ctx.ui.warn(&format!(
            "{} unreadable line(s) in the import ledger {} were ignored (a write cut short)",
            ledger.unreadable_lines,
            ledger.path().display()
        ));
    }
    Ok(ledger)
}

/// A batch id for `--new-batch`: the UTC time and a random suffix, readable in a ledger.
fn new_batch_id() -> String {
    let now = time::OffsetDateTime::now_utc();
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}-{}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        &suffix[..8]
    )
}

/// Counts for the summary line.
struct Summary {
    created: usize,
    skipped: usize,
    skipped_rows: Vec<usize>,
    replayed: usize,
    failed: Vec<usize>,
    pending: Vec<usize>,
    retries: u32,
    elapsed: Duration,
}

impl Summary {
    fn of(results: &[RowResult], elapsed: Duration) -> Self {
        let rows = |outcome: Outcome| -> Vec<usize> {
            results
                .iter()
                .filter(|r| r.result == outcome)
                .map(|r| r.row)
                .collect()
        };
        let mut pending = rows(Outcome::NotAttempted);
        pending.extend(rows(Outcome::Unknown));
        pending.sort_unstable();
        let skipped_rows = rows(Outcome::Skipped);
        Summary {
            created: rows(Outcome::Created).len(),
            skipped: skipped_rows.len(),
            skipped_rows,
            replayed: rows(Outcome::Replayed).len(),
            failed: rows(Outcome::Failed),
            pending,
            retries: results
                .iter()
                .filter_map(|r| r.attempts)
                .map(|a| a.saturating_sub(1))
                .fold(0, u32::saturating_add),
            elapsed,
        }
    }

    fn line(&self, file: &str) -> String {
        let mut line = format!(
            "{file}: {} created, {} replayed, {} skipped (already imported), {} failed",
            self.created,
            self.replayed,
            self.skipped,
            self.failed.len()
        );
        if !self.failed.is_empty() {
            line.push_str(&format!(" ({})", rows_label(&self.failed)));
        }
        if !self.pending.is_empty() {
            line.push_str(&format!(
                ", {} not done ({})",
                self.pending.len(),
                rows_label(&self.pending)
            ));
        }
        line.push_str(&format!(
            "; {} retries; {:.1}s",
            self.retries,
            self.elapsed.as_secs_f64()
        ));
        line
    }
}

/// A plain run (no batch) creates again the rows a `--batch-id` run imported: it says so
/// before it starts, naming the batch to resume instead.
fn warn_rows_of_batches(ctx: &Ctx, rows: &[ImportRow], ledger: &Ledger) {
    let mut by_batch: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
    for row in rows {
        if ledger.get(&row.row_id).is_none()
            && let Some(batch) = ledger.batch_of(&row.content_id)
        {
            by_batch.entry(batch).or_default().push(row.row);
        }
    }
    for (batch, batch_rows) in by_batch {
        ctx.ui.warn(&format!(
            "{} {} imported before in batch {batch}; this run, outside that batch, creates \
             {} again (to resume the batch instead: --batch-id {batch})",
            rows_label(&batch_rows),
            if batch_rows.len() == 1 { "was" } else { "were" },
            if batch_rows.len() == 1 { "it" } else { "them" }
        ));
    }
}

/// `1 row` or `3 rows`.
fn row_count(n: usize) -> String {
    format!("{n} {}", if n == 1 { "row" } else { "rows" })
}

/// `row 4` or `rows 2, 5, 9`.
fn rows_label(rows: &[usize]) -> String {
    let noun = if rows.len() == 1 { "row" } else { "rows" };
    format!("{noun} {}", join_rows(rows))
}

/// `2, 5-9, 12`: runs of consecutive rows as ranges, shortened after 20 entries.
fn join_rows(rows: &[usize]) -> String {
    const SHOWN: usize = 20;
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &row in rows {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == row => *end = row,
            _ => runs.push((row, row)),
        }
    }
    let mut text = runs
        .iter()
        .take(SHOWN)
        .map(|&(start, end)| match end - start {
            0 => start.to_string(),
            1 => format!("{start}, {end}"),
            _ => format!("{start}-{end}"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    if runs.len() > SHOWN {
        let hidden: usize = runs[SHOWN..].iter().map(|(s, e)| e - s + 1).sum();
        text.push_str(&format!(" and {hidden} more"));
    }
    text
}

fn print_results(ctx: &Ctx, results: &[RowResult]) -> Result<(), CliError> {
    if ctx.ui.mode == OutputMode::Json {
        return ctx.ui.json(results);
    }
    let rows: Vec<Vec<Value>> = results
        .iter()
        .map(|r| {
            let detail = match (&r.code, &r.error) {
                (Some(code), _) => code.scan_url.clone().unwrap_or_default(),
                (None, None) if r.already_imported.is_some() => r
                    .already_imported
                    .as_ref()
                    .map(|e| format!("already imported {} from {}", e.created_at, e.file))
                    .unwrap_or_default(),
                (None, Some(err)) if err.field_errors.is_empty() => {
                    format!("{} ({})", err.message, err.code)
                }
                (None, Some(err)) => {
                    let fields: Vec<String> = err
                        .field_errors
                        .iter()
                        .flat_map(|(f, ps)| ps.iter().map(move |p| format!("{f}: {p}")))
                        .collect();
                    format!("{} ({})", fields.join("; "), err.code)
                }
                (None, None) => String::new(),
            };
            vec![
                Value::number(r.row),
                Value::toned(r.result.as_str(), r.result.tone()),
                Value::new(
                    r.code
                        .as_ref()
                        .map(|c| c.shortcode.clone())
                        .or_else(|| r.already_imported.as_ref().map(|e| e.shortcode.clone()))
                        .unwrap_or_default(),
                ),
                Value::new(detail),
            ]
        })
        .collect();
    ctx.ui.rows(
        &["ROW", "RESULT", "SHORTCODE", "SCAN URL / ERROR"],
        &rows,
        "",
    )
}

fn print_plan(ctx: &Ctx, rows: &[ImportRow], ledger: Option<&Ledger>) -> Result<(), CliError> {
    let known = |r: &ImportRow| ledger.and_then(|l| l.get(&r.row_id));
    let problems = row_problems(rows);
    let plan = |r: &ImportRow, problem: &Option<String>| match (known(r), problem) {
        (Some(_), _) => "skip",
        (None, Some(_)) => "fails",
        (None, None) => "send",
    };
    if ctx.ui.mode == OutputMode::Json {
        let planned: Vec<_> = rows
            .iter()
            .zip(&problems)
            .map(|(r, problem)| PlannedRow {
                row: r.row,
                line: r.line,
                target_url: &r.target_url,
                label: r.label.as_deref(),
                shortcode: r.shortcode.as_deref(),
                idempotency_key: &r.idempotency_key,
                plan: plan(r, problem),
                already_imported: known(r),
                problem: problem.clone().filter(|_| known(r).is_none()),
            })
            .collect();
        ctx.ui.json(&planned)?;
    } else {
        let table: Vec<Vec<Value>> = rows
            .iter()
            .zip(&problems)
            .map(|(r, problem)| {
                vec![
                    Value::number(r.row),
                    Value::new(&r.target_url),
                    Value::new(r.label.clone().unwrap_or_default()),
                    Value::new(r.shortcode.clone().unwrap_or_default()),
                    Value::new(&r.idempotency_key),
                    match (known(r), problem) {
                        (Some(e), _) => Value::new(format!("skip: imported as {}", e.shortcode)),
                        (None, Some(problem)) => {
                            Value::toned(format!("fails: {problem}"), Tone::Warn)
                        }
                        (None, None) => Value::toned("send", Tone::Good),
                    },
                ]
            })
            .collect();
        ctx.ui.rows(
            &[
                "ROW",
                "TARGET URL",
                "LABEL",
                "SHORTCODE",
                "IDEMPOTENCY KEY",
                "PLAN",
            ],
            &table,
            "The file has no rows after the header.",
        )?;
    }
    let failing: Vec<usize> = rows
        .iter()
        .zip(&problems)
        .filter(|(r, problem)| problem.is_some() && known(r).is_none())
        .map(|(r, _)| r.row)
        .collect();
    if !failing.is_empty() {
        return Err(CliError::Usage(format!(
            "{} of the file cannot be created as written (see PLAN); nothing was sent (--dry-run)",
            rows_label(&failing)
        )));
    }
    ctx.ui.info(&format!(
        "{} checked; nothing was sent (--dry-run).",
        row_count(rows.len())
    ));
    Ok(())
}

/// For each row, why it cannot be created as written, as far as the file alone tells: no
/// `target_url`, or a shortcode an earlier row of the file already asks for. What only the
/// API can judge (the URL's form, a shortcode taken elsewhere) is left to it.
fn row_problems(rows: &[ImportRow]) -> Vec<Option<String>> {
    let mut first_with: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    rows.iter()
        .map(|r| {
            if r.target_url.is_empty() {
                return Some("target_url is empty".to_string());
            }
            let shortcode = r.shortcode.as_deref()?;
            match first_with.get(shortcode) {
                Some(first) => Some(format!("shortcode {shortcode} is also on row {first}")),
                None => {
                    first_with.insert(shortcode, r.row);
                    None
                }
            }
        })
        .collect()
}

/// Progress on stderr: a bar on a terminal, else one line per row.
struct Progress<'a> {
    ctx: &'a Ctx,
    bar: Option<ProgressBar>,
    /// created, replayed, skipped, failed so far (for the bar's message).
    counts: std::cell::Cell<(usize, usize, usize, usize)>,
    /// The reset time of a rate-limit wait already announced (one line per wait when piped).
    announced_wait: std::cell::Cell<Option<u64>>,
}

impl<'a> Progress<'a> {
    fn new(ctx: &'a Ctx, total: usize) -> Self {
        let bar = ctx.ui.stderr_tty.then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{spinner} [{bar:32}] {pos}/{len} rows {msg} ({elapsed}, eta {eta})",
            )
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress {
            ctx,
            bar,
            counts: std::cell::Cell::new((0, 0, 0, 0)),
            announced_wait: std::cell::Cell::new(None),
        }
    }

    fn start(&self, message: &str) {
        if self.bar.is_none() {
            self.ctx.ui.info(message);
        }
    }

    fn note(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| self.ctx.ui.info(message)),
            None => self.ctx.ui.info(message),
        }
    }

    /// Called while a row is in flight: says so when the rate limit is spent and the SDK is
    /// waiting for the window to slide.
    fn rate_limit_wait(&self, rate_limit: Option<heldqr_sdk::RateLimit>) {
        let Some(rl) = rate_limit.filter(|rl| rl.remaining == 0) else {
            return;
        };
        let wait = rl.reset_in();
        if wait.is_zero() {
            return;
        }
        let message = format!(
            "waiting {}s for the rate limit ({} {} per window)",
            wait.as_millis().div_ceil(1000),
            rl.limit,
            if rl.limit == 1 { "request" } else { "requests" }
        );
        match &self.bar {
            Some(bar) => bar.set_message(format!("· {message}")),
            None if self.announced_wait.get() != Some(rl.reset) => {
                self.announced_wait.set(Some(rl.reset));
                self.ctx.ui.info(&message);
            }
            None => {}
        }
    }

    fn row_done(&self, result: &RowResult) {
        let line = match (&result.code, &result.error) {
            (None, None) if result.already_imported.is_some() => {
                let entry = result.already_imported.as_ref();
                format!(
                    "row {}: skipped: already imported as {} at {} (from {})",
                    result.row,
                    entry.map(|e| one_line(&e.shortcode)).unwrap_or_default(),
                    entry.map(|e| one_line(&e.created_at)).unwrap_or_default(),
                    entry.map(|e| one_line(&e.file)).unwrap_or_default()
                )
            }
            (Some(code), _) => format!(
                "row {}: {} {}",
                result.row,
                result.result.as_str(),
                one_line(&code.shortcode)
            ),
            // Server text on one line (the message names each field and its problem).
            (None, Some(err)) if result.result == Outcome::Failed => format!(
                "row {} (line {}): failed: {} ({})",
                result.row,
                result.line,
                one_line(&err.message),
                one_line(&err.code)
            ),
            _ => match result.result {
                Outcome::NotAttempted => {
                    format!("row {}: not attempted (a re-run sends it)", result.row)
                }
                Outcome::Unknown => format!(
                    "row {}: unknown: sent, with no answer saying whether it was created (a \
                     re-run settles it without a duplicate)",
                    result.row
                ),
                other => format!("row {}: {}", result.row, other.as_str()),
            },
        };
        let (mut created, mut replayed, mut skipped, mut failed) = self.counts.get();
        match result.result {
            Outcome::Created => created += 1,
            Outcome::Replayed => replayed += 1,
            Outcome::Failed => failed += 1,
            Outcome::Skipped => skipped += 1,
            Outcome::NotAttempted | Outcome::Unknown => {}
        }
        self.counts.set((created, replayed, skipped, failed));
        match &self.bar {
            Some(bar) => {
                if result.result == Outcome::Failed {
                    bar.suspend(|| self.ctx.ui.info(&line));
                }
                bar.set_message(format!(
                    "· {created} created · {replayed} replayed · {skipped} skipped · {failed} failed"
                ));
                bar.inc(1);
            }
            None => self.ctx.ui.info(&line),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Ctrl-C that arrives while no row is in flight (nothing polls the listener) is kept
    /// for the next look instead of being lost.
    #[cfg(unix)]
    #[tokio::test]
    async fn a_ctrl_c_between_rows_is_kept() {
        let mut interrupts = Interrupts::listen();
        assert!(interrupts.signal.is_some());
        assert!(!interrupts.try_recv());
        let status = std::process::Command::new("kill")
            .args(["-INT", &std::process::id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        // Delivery is asynchronous: wait for it (bounded), it must not be dropped.
        tokio::time::timeout(Duration::from_secs(30), interrupts.recv())
            .await
            .expect("the Ctrl-C sent while nothing was polling is delivered");
        assert!(!interrupts.try_recv(), "one press, one event");
    }

    #[test]
    fn imports_outwait_a_production_rate_window() {
        assert!(IMPORT_MAX_WAIT >= Duration::from_secs(61));
        assert!(ROW_DEADLINE > IMPORT_MAX_WAIT);
    }

    #[test]
    fn row_lists_are_shortened() {
        assert_eq!(join_rows(&[2, 5, 9]), "2, 5, 9");
        assert_eq!(join_rows(&[2, 3, 5, 6, 7, 8, 12]), "2, 3, 5-8, 12");
        assert_eq!(join_rows(&(42..=61).collect::<Vec<_>>()), "42-61");
        let scattered: Vec<usize> = (1..=25).map(|i| i * 2).collect();
        assert!(join_rows(&scattered).ends_with("40 and 5 more"));
        assert_eq!(rows_label(&[4]), "row 4");
        assert_eq!(rows_label(&[4, 5]), "rows 4, 5");
    }

    #[test]
    fn only_row_specific_errors_let_the_import_go_on() {
        assert!(stops_the_import(&SdkError::Timeout {
            idempotency_key: None,
            request_id: None,
            attempts: 1,
            deadline_exceeded: false,
        }));
        assert!(stops_the_import(&SdkError::Config("x".into())));
    }
}
