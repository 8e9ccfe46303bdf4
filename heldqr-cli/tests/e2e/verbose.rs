//! `-v`, `-vv` and `HELDQR_DEBUG`: a trace on stderr, never the token, stdout unchanged.

use crate::support::{Heldqr, Mock, PRO};

#[test]
fn verbose_writes_to_stderr_only_and_never_the_token() {
    let mock = Mock::start();
    let cli = Heldqr::with_token(&mock, PRO);
    let quiet = cli.run(&["codes", "list", "--json"]).success();
    assert!(quiet.stderr.is_empty(), "{}", quiet.stderr);

    for run in [
        cli.run(&["-v", "codes", "list", "--json"]),
        cli.run(&["codes", "list", "--json", "-vv"]),
        Heldqr::with_token(&mock, PRO)
            .env("HELDQR_DEBUG", "1")
            .run(&["codes", "list", "--json"]),
    ] {
        let run = run.success();
        assert_eq!(run.stdout, quiet.stdout);
        let settings = run
            .stderr
            .lines()
            .find(|l| l.contains(" settings "))
            .unwrap_or_else(|| panic!("no settings line:\n{}", run.stderr));
        assert!(settings.starts_with("* +"), "{settings}");
        assert!(
            settings.contains(&format!("host={}", mock.base_url)),
            "{settings}"
        );
        assert!(settings.contains("token=hkr_…pro"), "{settings}");
        assert!(!run.stderr.contains(PRO), "{}", run.stderr);
    }
}
